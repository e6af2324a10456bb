package dev.braid.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The quality an {@code Accept} header gives a media type: the most specific matching range's {@code q}. */
class AcceptHeaderTest {

  @ParameterizedTest(name = "{0} gives {1} q={3}")
  @CsvSource(delimiter = '|', value = {
      "text/event-stream                              | text/event-stream | false | 1",
      "text/event-stream;q=0, application/json        | text/event-stream | false | 0",
      "text/event-stream;q=0, application/json        | application/json  | false | 1",
      "application/json, text/event-stream;q=0.5      | text/event-stream | false | 0.5",
      "Text/Event-Stream ; Q=0.25                     | text/event-stream | false | 0.25",
      "*/*;q=0.1, application/*;q=0.2                 | application/json  | false | 0.2",
      "*/*;q=0.1, application/*;q=0.2, application/json;q=0 | application/json | false | 0",
      "*/*                                            | text/event-stream | true  | 0",
      "*/*                                            | application/json  | false | 1",
      "text/html                                      | application/json  | false | 0",
      "application/json;q=banana                      | application/json  | false | 1",
      "application/json;q=7                           | application/json  | false | 1",
      "''                                             | application/json  | false | 0",
  })
  void shouldGiveTheQualityOfTheMostSpecificMatchingRange(String accept, String type, boolean explicitOnly,
      double q) {
    assertThat(AcceptHeader.quality(accept, type, explicitOnly)).isEqualTo(q);
  }
}

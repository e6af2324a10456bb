package dev.braid;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The message names the unknown name and lists the known ones, at most twenty of them. */
class UnknownNameExceptionTest {

  @Test
  void shouldListTheKnownNamesAndCountThoseBeyondTwenty() {
    assertThat(new UnknownNameException("view", "x", List.of("a", "b")).getMessage())
        .isEqualTo("unknown view 'x'; views are: a, b");
    assertThat(new UnknownNameException("push", "p", List.of()).getMessage())
        .isEqualTo("unknown push 'p'; pushes are: (none)");
    List<String> many = IntStream.rangeClosed(1, 49).mapToObj(i -> "t/" + i).toList();
    String m = new UnknownNameException("version", "t/99", many).getMessage();
    assertThat(m).startsWith("unknown version 't/99'; versions are: t/1, t/2, ").endsWith(", t/20 and 29 more");
    assertThat(new UnknownNameException("version", "t/99", many.subList(0, 20)).getMessage()).endsWith("t/19, t/20");
  }

  @Test
  void shouldRepeatOnlyTheStartOfALongName() {
    String asked = "v".repeat(5000);
    UnknownNameException e = new UnknownNameException("view", asked, List.of("a"));
    assertThat(e.getMessage()).isEqualTo("unknown view '" + "v".repeat(100) + "...' (5000 characters); views are: a");
    assertThat(e.name()).isEqualTo(asked);
    String emoji = "v".repeat(99) + "\uD83D\uDE00" + "v".repeat(10); // a surrogate pair across the cut
    assertThat(new UnknownNameException("view", emoji, List.of()).getMessage())
        .startsWith("unknown view '" + "v".repeat(99) + "...' (111 characters)");
    assertThat(new UnknownNameException("view", "v".repeat(100), List.of()).getMessage())
        .isEqualTo("unknown view '" + "v".repeat(100) + "'; views are: (none)");
  }
}

package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.log.CorruptLogException;
import dev.braid.log.Cut;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BaseFile#openWritten}: the Base a writer has just finished opens without its body being
 * read again, answers as {@link BaseFile#open} does, and is refused when it is not the file that
 * writer wrote.
 */
class BaseFileOpenWrittenTest {

  @TempDir
  Path dir;

  private BaseFile.Written write(Path base, int keys, long countOffset) throws Exception {
    ViewProgram p = BaseFileIndexTest.countProgram();
    long[] row = new long[p.longWidth];
    try (BaseFile.Writer w = BaseFile.Writer.begin(base, p, Cut.of(keys), 16)) {
      for (int i = 0; i < keys; i++) {
        byte[] k = ("user-" + i).getBytes(StandardCharsets.UTF_8);
        w.beginKey(k, 0, k.length, GroupTable.hash(k, k.length));
        row[0] = i + countOffset;
        w.window(0L, row, 0, new Object[0], 0);
        w.endKey();
      }
      return w.finish();
    }
  }

  private static long count(BaseFile f, String key) throws Exception {
    ViewProgram p = BaseFileIndexTest.countProgram();
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    long[] found = {-1};
    f.lookup(k, k.length, (window, buffer, offset, length) -> {
      long[] longs = new long[p.longWidth];
      p.readRow(new ByteBufferDataInput().reset(buffer, offset, offset + length), longs, 0, new Object[1], 0,
          p.scratch());
      found[0] = longs[0];
    });
    return found[0];
  }

  @Test
  void shouldOpenTheBaseJustWrittenAndAnswerAsAFullyCheckedOpenDoes() throws Exception {
    Path base = dir.resolve("v1.base");
    BaseFile.Written written = write(base, 500, 1);

    assertThat(written.keys()).isEqualTo(500);
    assertThat(written.groups()).isEqualTo(500);
    try (BaseFile trusted = BaseFile.openWritten(base, written); BaseFile checked = BaseFile.open(base)) {
      assertThat(trusted.keyCount).isEqualTo(checked.keyCount).isEqualTo(500);
      assertThat(trusted.cut).isEqualTo(checked.cut).isEqualTo(Cut.of(500));
      for (int i = 0; i < 500; i += 7) {
        assertThat(count(trusted, "user-" + i)).isEqualTo(count(checked, "user-" + i)).isEqualTo(i + 1);
      }
      assertThat(count(trusted, "user-500")).isEqualTo(-1);
    }
  }

  @Test
  void shouldRefuseAFileThatIsNotTheOneTheWriterWrote() throws Exception {
    Path base = dir.resolve("v1.base");
    BaseFile.Written first = write(base, 300, 1);
    BaseFile.Written second = write(base, 300, 2); // same counts, other values: another body CRC
    assertThat(second.bodyCrc()).isNotEqualTo(first.bodyCrc());

    assertThatThrownBy(() -> BaseFile.openWritten(base, first)).isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(base.toString()).hasMessageContaining("not the one just written");
    assertThatThrownBy(() -> BaseFile.openWritten(base,
        new BaseFile.Written(second.keys() + 1, second.groups(), second.bodyCrc())))
        .isInstanceOf(CorruptLogException.class).hasMessageContaining("not the one just written");
    BaseFile.openWritten(base, second).close();
  }

  @Test
  void shouldStillCheckTheHeader() throws Exception {
    Path base = dir.resolve("v1.base");
    BaseFile.Written written = write(base, 100, 1);
    try (FileChannel ch = FileChannel.open(base, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      ch.read(one, 20); // in the key count
      one.put(0, (byte) (one.get(0) ^ 4)).rewind();
      ch.write(one, 20);
    }

    assertThatThrownBy(() -> BaseFile.openWritten(base, written)).isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(base.toString()).hasMessageContaining("header fails its CRC");
  }
}

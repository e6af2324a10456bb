package dev.braid.server.cli;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.Charset;

/**
 * The process's standard output, as a stream that remembers why a write failed. The JVM's
 * {@code System.out} keeps a failure to itself ({@code checkError()} says only that one happened),
 * so {@code braid generate ... > /dev/full} wrote nothing, said nothing and exited 0, and a script
 * took the empty file for a result.
 *
 * <p>A reader that went away (a broken pipe: {@code braid generate | head}) is not a failure: the
 * command stops writing, as Unix tools do when their pipe closes, and exits as it would have.
 */
final class StandardOutput extends OutputStream {

  private final FileOutputStream fd = new FileOutputStream(FileDescriptor.out);
  private volatile IOException failure;

  private StandardOutput() {}

  /** Makes {@code System.out} write through a new {@link StandardOutput}, in the charset it had, and returns that. */
  static StandardOutput install() {
    StandardOutput s = new StandardOutput();
    // the JVM's own choice: stdout.encoding from JDK 19, sun.stdout.encoding before, else the default charset
    String name = System.getProperty("stdout.encoding", System.getProperty("sun.stdout.encoding"));
    Charset charset = Charset.defaultCharset();
    try {
      if (name != null) {
        charset = Charset.forName(name);
      }
    } catch (IllegalArgumentException unknown) {
      // the default charset, as the JVM would fall back to
    }
    System.setOut(new PrintStream(new BufferedOutputStream(s, 8192), true, charset));
    return s;
  }

  /**
   * The exit code of a command that returned {@code exitCode}: when a write to standard output
   * failed for another reason than a reader gone, says so on {@code err} (as one JSON object with
   * {@code json}) and makes a success a failure (exit code 1).
   */
  int exitCode(int exitCode, PrintStream err, boolean json) {
    System.out.flush();
    IOException f = failure;
    if (f == null || readerGone(f)) {
      return exitCode;
    }
    int code = exitCode == 0 ? 1 : exitCode;
    String message = "cannot write standard output: " + (f.getMessage() == null ? f.getClass().getSimpleName()
        : f.getMessage()) + "; what the command printed is incomplete";
    err.println(json ? BraidCli.jsonError(null, message, code) : "braid: error: " + message);
    err.flush();
    return code;
  }

  /**
   * Whether {@code e} means that the reader went away: standard output is a pipe or a socket (whose
   * only write failure is its reader's closing it, EPIPE, whatever the locale calls it), or, where
   * that cannot be seen, the message is the English "Broken pipe".
   */
  static boolean readerGone(IOException e) {
    try {
      String target = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/1")).toString();
      if (target.startsWith("pipe:") || target.startsWith("socket:")) {
        return true;
      }
    } catch (IOException | UnsupportedOperationException | SecurityException noProc) {
      // not Linux: the message is all there is
    }
    return e.getMessage() != null && e.getMessage().contains("Broken pipe");
  }

  private IOException noted(IOException e) {
    if (failure == null) {
      failure = e;
    }
    return e;
  }

  @Override
  public void write(int b) throws IOException {
    try {
      fd.write(b);
    } catch (IOException e) {
      throw noted(e);
    }
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    try {
      fd.write(b, off, len);
    } catch (IOException e) {
      throw noted(e);
    }
  }
}

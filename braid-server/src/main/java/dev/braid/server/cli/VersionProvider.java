package dev.braid.server.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** {@code braid --version}: the Maven project version, written into a resource at build time. */
final class VersionProvider implements IVersionProvider {

  static final String RESOURCE = "version.properties";

  /** The Braid version this build was made from, e.g. {@code 0.1.0-SNAPSHOT}. */
  static String braidVersion() {
    Properties p = new Properties();
    try (InputStream in = VersionProvider.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("resource " + RESOURCE + " is missing: braid-server was not built by Maven");
      }
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
    String v = p.getProperty("version", "").strip();
    if (v.isEmpty() || v.startsWith("${")) {
      throw new IllegalStateException("resource " + RESOURCE + " was not filtered by the build: '" + v + "'");
    }
    return v;
  }

  @Override
  public String[] getVersion() {
    return new String[] {
        "braid " + braidVersion(),
        "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ", "
            + System.getProperty("java.vendor") + ")"};
  }
}

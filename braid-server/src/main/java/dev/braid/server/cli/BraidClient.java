package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The command line's HTTP client of a Braid server. A problem answer (RFC 9457) becomes a
 * {@link BraidCli.CommandFailedException} carrying the server's {@code detail}, so every client
 * command fails the same way: one line, exit code 1.
 */
final class BraidClient {

  static final ObjectMapper JSON = new ObjectMapper();
  private final String base;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  BraidClient(String url) {
    this.base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  String url() {
    return base;
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  JsonNode get(String path) {
    return send(HttpRequest.newBuilder(uri(path)).GET());
  }

  JsonNode post(String path, String contentType, byte[] body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    return send(b);
  }

  JsonNode delete(String path) {
    return send(HttpRequest.newBuilder(uri(path)).DELETE());
  }

  private URI uri(String path) {
    try {
      return URI.create(base + path);
    } catch (IllegalArgumentException e) {
      throw new BraidCli.CommandFailedException("bad server URL '" + base + "': " + e.getMessage(), 2);
    }
  }

  private JsonNode send(HttpRequest.Builder b) {
    HttpResponse<String> r;
    try {
      r = http.send(b.timeout(Duration.ofMinutes(10)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException e) {
      throw new BraidCli.CommandFailedException("cannot reach Braid at " + base + ": is `braid server` running "
          + "(or pass --url)?", 1);
    } catch (IOException e) {
      throw new BraidCli.CommandFailedException("request to " + base + " failed: " + e, 1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BraidCli.CommandFailedException("interrupted", 130);
    }
    JsonNode body;
    try {
      body = r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    } catch (IOException e) {
      throw new BraidCli.CommandFailedException(String.format("the server answered HTTP %d with a body that is not "
          + "JSON: %.200s", r.statusCode(), r.body()), 1);
    }
    if (r.statusCode() >= 400) {
      String detail = body.path("detail").asText(r.body());
      throw new BraidCli.CommandFailedException(detail + " (HTTP " + r.statusCode() + ")", 1);
    }
    return body;
  }
}

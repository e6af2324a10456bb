package dev.braid;

/**
 * An event that ingest refused, kept in the stream's dead-letter log with the reason.
 *
 * @param offset its position in the dead-letter log
 * @param receivedAtMillis when it arrived
 * @param index its index in the request it came in
 * @param reason why it was refused
 * @param event the event as it was sent (text); its first 64 Ki characters when {@code truncated}
 * @param truncated whether {@code event} was cut because the event was larger than a dead letter keeps
 * @param length the length of the event as it was sent, in characters
 */
public record DeadLetter(long offset, long receivedAtMillis, int index, String reason, String event,
    boolean truncated, long length) {}

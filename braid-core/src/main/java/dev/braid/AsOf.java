package dev.braid;

import dev.braid.log.Cut;

/**
 * What a read is as of: the version that answered, the cut its Base covers, and the position up to
 * which its Delta had folded events when the read looked. The answer equals a full recomputation of
 * the version's definition over every event below {@code position}, except, for a view with
 * {@code allowed_lateness}, the events that came later than that to a window: the speed layer
 * leaves them to a lambda view's next batch cycle, and a kappa view never counts them (see
 * {@link dev.braid.spec.ViewSpec}).
 *
 * @param version the version id
 * @param cut the Base covers {@code [0, cut)}
 * @param position the Delta covers {@code [cut, position)}, per partition
 * @param watermarkMillis the stream's event-time watermark when the read looked (see
 *     {@link Status.Watermark}), or {@link Long#MIN_VALUE} before any event
 */
public record AsOf(long version, Cut cut, Cut position, long watermarkMillis) {

  /** Without a watermark. */
  public AsOf(long version, Cut cut, Cut position) {
    this(version, cut, position, Long.MIN_VALUE);
  }
}

package dev.braid;

import dev.braid.log.Cut;

/**
 * What the catalog knows of one version of a view.
 *
 * @param cut the Base covers {@code [0, cut)}
 * @param position how far the Delta has folded events (null when the version has no live Delta)
 * @param baseKeys keys in the Base
 * @param failure why the version failed, or null
 * @param progress for a {@code building} version, how far its build is; null otherwise
 */
public record VersionInfo(String view, long id, VersionState state, String definition, Cut cut, Cut position,
    long baseKeys, long createdAtMillis, String failure, ReplayProgress progress) {}

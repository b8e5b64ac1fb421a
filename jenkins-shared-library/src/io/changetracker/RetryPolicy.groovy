package io.changetracker

import com.cloudbees.groovy.cps.NonCPS

/**
 * How patiently recordChange retries: a few attempts with doubling pauses ride out a tracker restart or a
 * proxy hiccup without holding a build up for long (3 attempts: pauses of 2 s and 4 s).
 */
class RetryPolicy implements Serializable {
    private static final long serialVersionUID = 1L

    final int attempts
    final int firstPauseSeconds

    RetryPolicy(int attempts = 3, int firstPauseSeconds = 2) {
        this.attempts = attempts
        this.firstPauseSeconds = firstPauseSeconds
    }

    /** Whether to try again after attempt number {@code attempt} (1-based) came back as {@code response}. */
    @NonCPS
    boolean shouldRetry(int attempt, TrackerResponse response) {
        return !response.ok && response.retryable && attempt < attempts
    }

    /** Seconds to wait after attempt number {@code attempt} failed: 2, 4, 8, ... */
    @NonCPS
    int pauseSeconds(int attempt) {
        return firstPauseSeconds * (1 << Math.max(0, attempt - 1))
    }
}

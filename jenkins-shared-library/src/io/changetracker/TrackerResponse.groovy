package io.changetracker

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonException
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic

/**
 * What came of one attempt to record an event (or its end): the event id, or a problem worth a warning and whether
 * trying again could help. Built from callChangeTracker's plain answer, so no plugin object outlives the request.
 */
class TrackerResponse implements Serializable {
    private static final long serialVersionUID = 1L

    private static final int SNIPPET_MAX = 300

    /** The HTTP status, or 0 when no answer came (connection refused, timeout, missing plugin). */
    final int status
    final Object eventId
    final Integer count
    /** Human-readable and safe to echo: it never contains the token. Null on success. */
    final String problem
    final boolean retryable

    private TrackerResponse(int status, Object eventId, Integer count, String problem, boolean retryable) {
        this.status = status
        this.eventId = eventId
        this.count = count
        this.problem = problem
        this.retryable = retryable
    }

    /** Reads callChangeTracker's answer: no answer at all (status 0, with its problem), or the tracker's. */
    @NonCPS
    static TrackerResponse of(Map answer, String credentialsId) {
        int status = answer.status as int
        if (status == 0) {
            return new TrackerResponse(0, null, null, String.valueOf(answer.problem), answer.retryable == true)
        }
        return of(status, answer.content as String, credentialsId)
    }

    /**
     * Reads the tracker's answer: 201 recorded, 200 folded into an event with the same dedupe key (or, to a
     * PATCH, the event updated).
     */
    @NonCPS
    static TrackerResponse of(int status, String content, String credentialsId) {
        String answered = describeAnswer(status, content)
        if (status == 200 || status == 201) {
            def body = parse(content)
            Object id = body instanceof Map ? body.id : null
            if (id == null) {
                return new TrackerResponse(status, null, null,
                    "Change Tracker answered ${answered} without an event id".toString(), false)
            }
            Integer count = body.count instanceof Number ? (body.count as Integer) : null
            return new TrackerResponse(status, id, count, null, false)
        }
        if (status == 401) {
            return new TrackerResponse(status, null, null, refusedToken(credentialsId, answered), false)
        }
        if (status == 403) {
            return new TrackerResponse(status, null, null, ("the token in credentials '${credentialsId}' may not " +
                "record events (${answered}); it needs the record scope and an editor or admin user").toString(), false)
        }
        if (status == 422) {
            return new TrackerResponse(status, null, null,
                "Change Tracker rejected the event (${answered})".toString(), false)
        }
        boolean worthRetrying = status == 408 || status == 429 || status >= 500
        return new TrackerResponse(status, null, null, "Change Tracker answered ${answered}".toString(), worthRetrying)
    }

    /** "HTTP 422: Validation failed. (field: message)": the status and what the tracker said, safe to echo. */
    @NonCPS
    static String describeAnswer(int status, String content) {
        def body = parse(content)
        String detail = body instanceof Map ? errorDetail((Map) body) : snippet(content)
        return "HTTP ${status}${detail ? ': ' + detail : ''}".toString()
    }

    /** The 401 explanation, naming the credential (never its secret). */
    @NonCPS
    static String refusedToken(String credentialsId, String answered) {
        return ("Change Tracker refused the token in credentials '${credentialsId}' (${answered}); " +
            'check that it exists, has not expired and was not revoked').toString()
    }

    /** The tracker's JSON answer as maps and lists, or null when it is not JSON (a proxy's error page, say). */
    @NonCPS
    static Object parse(String content) {
        Object parsed = null
        if (content?.trim()) {
            try {
                parsed = new JsonSlurperClassic().parseText(content)
            } catch (JsonException ignored) {
                // not JSON: describeAnswer falls back to a snippet of the text
            }
        }
        return parsed
    }

    @NonCPS
    boolean isOk() {
        return problem == null
    }

    /** True when the tracker folded the change into an earlier event with the same dedupe key. */
    @NonCPS
    boolean isFolded() {
        return status == 200
    }

    /** "message (field: msg; field: msg)" from the tracker's {"code", "message", "errors"} error shape. */
    @NonCPS
    private static String errorDetail(Map body) {
        String message = body.message ? body.message.toString() : ''
        List<String> fields = []
        if (body.errors instanceof Map) {
            ((Map) body.errors).each { field, messages ->
                String text = messages instanceof List && messages.every { it instanceof CharSequence } ?
                    ((List) messages).join(' ') : JsonOutput.toJson(messages)
                fields << "${field}: ${text}".toString()
            }
        }
        String detail = fields ? (message ? message + ' (' + fields.join('; ') + ')' : fields.join('; ')) : message
        return detail.length() > SNIPPET_MAX ? detail.take(SNIPPET_MAX - 3) + '...' : detail
    }

    @NonCPS
    private static String snippet(String content) {
        String text = (content ?: '').replaceAll(/<[^>]*>/, ' ').replaceAll(/\s+/, ' ').trim()
        return text.length() > SNIPPET_MAX ? text.take(SNIPPET_MAX - 3) + '...' : text
    }
}

package io.changetracker

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonOutput

/**
 * One call of Change Tracker's API as callChangeTracker makes it: method, path, JSON body, tracker, credential and
 * timeout, checked; and its outcome as a plain map the steps read (see {@link #answered} and {@link #failed}).
 * It holds only strings and numbers, so it survives CPS serialisation.
 */
class ApiRequest implements Serializable {
    private static final long serialVersionUID = 1L

    /** Every parameter the step understands. */
    static final List<String> PARAMETERS = ['method', 'path', 'body', 'credentialsId', 'url', 'timeout'].asImmutable()
    static final List<String> METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].asImmutable()

    private final Map config

    /** @param config the step's parameters, defaults already merged */
    ApiRequest(Map config) {
        this.config = StepParameters.plainCopy(config)
    }

    /** Every problem with the parameters, each naming its parameter; empty when the request can be sent. */
    @NonCPS
    List<String> problems() {
        List<String> problems = StepParameters.unknownProblems(config, PARAMETERS)
        if (!METHODS.contains(String.valueOf(config.method).toUpperCase())) {
            problems << "method '${config.method}' is not one of: ${METHODS.join(', ')}".toString()
        }
        if (!(config.path instanceof CharSequence) || !config.path.toString().startsWith('/')) {
            problems << "path must be the API path, starting with /, e.g. '/api/v1/events' (got '${config.path}')"
                .toString()
        }
        def body = config.body
        if (body != null && !(body instanceof CharSequence || body instanceof Map || body instanceof List)) {
            problems << 'body must be JSON text, or a map or list to send as JSON'
        }
        problems.addAll(StepParameters.connectionProblems(config))
        return problems
    }

    @NonCPS
    String getMethod() {
        return String.valueOf(config.method).toUpperCase()
    }

    /** The JSON body as text, or null for none. */
    @NonCPS
    String getBody() {
        def body = config.body
        return body == null || body instanceof CharSequence ? body : JsonOutput.toJson(body)
    }

    /** What the HTTP Request plugin calls the body's type: none, or JSON in UTF-8. */
    @NonCPS
    String getContentType() {
        return body == null ? 'NOT_SET' : 'APPLICATION_JSON_UTF8'
    }

    /** The full URL: the tracker's base URL, then the path and query. */
    @NonCPS
    String getUrl() {
        return StepParameters.baseUrl(config.url) + config.path
    }

    /** The URL without its query: what a warning names (a query may be long). */
    @NonCPS
    String getEndpoint() {
        String url = getUrl()
        return url.contains('?') ? url.substring(0, url.indexOf('?')) : url
    }

    @NonCPS
    String getCredentialsId() {
        return StepParameters.credentialsId(config.credentialsId)
    }

    @NonCPS
    int getTimeout() {
        return StepParameters.timeout(config.timeout)
    }

    /** The tracker answered: its HTTP status and body, and which transport carried them (httpRequest or curl). */
    @NonCPS
    static Map answered(int status, String content, String transport) {
        return [status: status, content: content ?: '', transport: transport]
    }

    /**
     * No answer came. {@code problem} is safe to print (it never holds the token); {@code retryable} says whether
     * trying again could help (a tracker restarting could; a missing credential could not).
     */
    @NonCPS
    static Map failed(String problem, boolean retryable) {
        return [status: 0, problem: problem, retryable: retryable]
    }

    /** The tracker is down, unreachable or too slow; {@code secret} is taken out of the cause's message. */
    @NonCPS
    Map unreachable(Throwable cause, Object secret) {
        String message = TrackerLinks.redact(cause.message, secret)
        String reason = cause.getClass().simpleName + (message ? ': ' + message : '')
        return failed("could not reach Change Tracker at ${endpoint} (${reason})".toString(), true)
    }

    /** The credential could not be bound: missing, or not a Secret text. */
    @NonCPS
    Map credentialsUnusable(Throwable cause) {
        return failed("could not use credentials '${credentialsId}' (${cause.getClass().simpleName}" +
            (cause.message ? ': ' + cause.message : '') + ')', false)
    }
}

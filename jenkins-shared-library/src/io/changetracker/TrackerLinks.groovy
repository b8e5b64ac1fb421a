package io.changetracker

import com.cloudbees.groovy.cps.NonCPS

/**
 * The tracker's pages that make sense from Jenkins: an event, an agent's page and its events, and the suspects
 * of a failed build (keyed by its BUILD_URL). One place builds them, so the steps, the badges and the README agree.
 */
class TrackerLinks implements Serializable {
    private static final long serialVersionUID = 1L

    /** The tracker's base URL without trailing slashes, e.g. https://changes.example.com. */
    final String baseUrl

    TrackerLinks(String url) {
        this.baseUrl = StepParameters.baseUrl(url)
    }

    /** The page of one event: /events/<id>. */
    @NonCPS
    String event(Object eventId) {
        return baseUrl + '/events/' + pathSegment(String.valueOf(eventId))
    }

    /** An agent's page, with its newest changes: /agents/<name>. */
    @NonCPS
    String agent(String name) {
        return baseUrl + '/agents/' + pathSegment(name)
    }

    /** The event list filtered to one agent: /events?agent=<name>. */
    @NonCPS
    String eventsOnAgent(String name) {
        return baseUrl + '/events?agent=' + queryValue(name)
    }

    /**
     * The changes that could explain a failed build, found from its URL: /suspects?build_url=<BUILD_URL>. The
     * tracker finds the build's agent from the changes the build recorded; suspects() asks with the agent too.
     */
    @NonCPS
    String suspectsOfBuild(String buildUrl) {
        return suspects('build_url=' + queryValue(buildUrl))
    }

    /** The suspects page for a query string of GET /api/v1/suspects (agent, tool, build_url, before, since). */
    @NonCPS
    String suspects(String queryString) {
        return baseUrl + '/suspects?' + queryString
    }

    /**
     * The Authorization header's value for an API token. A Secret text pasted with its trailing newline would
     * make an invalid header (whose error message quotes it): the token is trimmed.
     */
    @NonCPS
    static String authorization(Object token) {
        return 'Bearer ' + String.valueOf(token ?: '').trim()
    }

    /** {@code text} without {@code secret}: an exception's message may quote a request header. */
    @NonCPS
    static String redact(String text, Object secret) {
        String hidden = String.valueOf(secret ?: '').trim()
        return text != null && hidden ? text.replace(hidden, '****') : text
    }

    /** application/x-www-form-urlencoded, as query strings want it (a space is +). */
    @NonCPS
    static String queryValue(String value) {
        return URLEncoder.encode(String.valueOf(value), 'UTF-8')
    }

    /** One URL path segment: percent-encoded, a space as %20 (a + would stay a plus). */
    @NonCPS
    static String pathSegment(String value) {
        return URLEncoder.encode(String.valueOf(value), 'UTF-8').replace('+', '%20')
    }
}

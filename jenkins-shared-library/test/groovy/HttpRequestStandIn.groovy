/**
 * The HTTP Request plugin's httpRequest step, done for real with HttpURLConnection: same parameter names,
 * seconds for timeout (connect and read), validResponseCodes checked the plugin's way, masked headers in the
 * log, and a response with .status and .content.
 */
class HttpRequestStandIn {
    static final Map<String, String> CONTENT_TYPES = [
        NOT_SET             : null,
        APPLICATION_JSON    : 'application/json',
        APPLICATION_JSON_UTF8: 'application/json; charset=UTF-8',
        APPLICATION_FORM    : 'application/x-www-form-urlencoded',
        TEXT_PLAIN          : 'text/plain',
        TEXT_HTML           : 'text/html',
    ].asImmutable()

    /** The plugin's parameters; an unknown one is a typo in the caller that Jenkins would reject too. */
    static final Set<String> PARAMETERS = ['url', 'httpMode', 'contentType', 'acceptType', 'requestBody',
                                           'customHeaders', 'validResponseCodes', 'validResponseContent',
                                           'timeout', 'quiet', 'consoleLogResponseBody', 'ignoreSslErrors',
                                           'httpProxy', 'authentication', 'outputFile',
                                           'responseHandle', 'wrapAsMultipart'] as Set

    /** What httpRequest returns (the plugin's ResponseContentSupplier). */
    static class Response implements Serializable {
        private static final long serialVersionUID = 1L

        final int status
        final String content
        final Map<String, List<String>> headers

        Response(int status, String content, Map<String, List<String>> headers) {
            this.status = status
            this.content = content
            this.headers = headers
        }

        String toString() {
            return "Status: ${status}, Response: ${content}"
        }
    }

    /** Performs the request; {@code log} gets the plugin's console lines unless quiet. */
    static Response send(Map args, Closure log) {
        Set unknown = args.keySet().collect { it.toString() } as Set
        unknown.removeAll(PARAMETERS)
        if (unknown) {
            throw new IllegalArgumentException("httpRequest: unknown parameter(s) ${unknown.sort()}")
        }
        if (!args.url) {
            throw new IllegalArgumentException('httpRequest: url is required')
        }
        boolean quiet = args.quiet == true
        String method = args.httpMode ?: 'GET'
        String validCodes = args.validResponseCodes ?: '100:399'
        int timeoutMillis = ((args.timeout ?: 0) as int) * 1000
        Closure say = { String line -> if (!quiet) { log(line) } }

        HttpURLConnection connection = (HttpURLConnection) new URL(args.url.toString()).openConnection()
        connection.requestMethod = method
        connection.connectTimeout = timeoutMillis
        connection.readTimeout = timeoutMillis
        connection.instanceFollowRedirects = true
        connection.useCaches = false
        say("HttpMethod: ${method}")
        say("URL: ${args.url}")
        String contentType = CONTENT_TYPES.containsKey(args.contentType ?: 'NOT_SET') ?
            CONTENT_TYPES[args.contentType ?: 'NOT_SET'] : null
        if (args.contentType && !CONTENT_TYPES.containsKey(args.contentType)) {
            throw new IllegalArgumentException("httpRequest: unknown contentType ${args.contentType}")
        }
        if (contentType) {
            connection.setRequestProperty('Content-Type', contentType)
            say("Content-Type: ${contentType}")
        }
        if (args.acceptType && CONTENT_TYPES[args.acceptType]) {
            connection.setRequestProperty('Accept', CONTENT_TYPES[args.acceptType])
        }
        (args.customHeaders ?: []).each { Map header ->
            connection.setRequestProperty(header.name.toString(), header.value.toString())
            say("${header.name}: ${header.maskValue ? '*****' : header.value}")
        }
        say("Sending request to url: ${args.url}")
        if (args.requestBody != null && method in ['POST', 'PUT', 'PATCH', 'DELETE']) {
            byte[] bytes = args.requestBody.toString().getBytes('UTF-8')
            connection.doOutput = true
            connection.setFixedLengthStreamingMode(bytes.length)
            connection.outputStream.withStream { it.write(bytes) }
        }
        int status = connection.responseCode
        InputStream stream = status >= 400 ? connection.errorStream : connection.inputStream
        String content = stream == null ? '' : stream.withStream { it.getText(charsetOf(connection.contentType)) }
        Map<String, List<String>> headers = connection.headerFields.findAll { it.key != null }
        connection.disconnect()
        say("Response Code: HTTP ${status}")
        if (args.consoleLogResponseBody == true && !quiet) {
            log("Response: \n${content}")
        }
        if (!accepts(validCodes, status)) {
            throw new PipelineAbort("Fail: Status code ${status} is not in the accepted range: ${validCodes}")
        }
        say("Success: Status code ${status} is in the accepted range: ${validCodes}")
        return new Response(status, content, headers)
    }

    /** validResponseCodes as the plugin reads it: "200", "100:399", "200,201,300:308". */
    static boolean accepts(String ranges, int status) {
        return ranges.split(',').any { String range ->
            List<String> bounds = range.trim().split(':') as List
            int low = bounds[0].trim().toInteger()
            int high = (bounds.size() > 1 ? bounds[1] : bounds[0]).trim().toInteger()
            status >= low && status <= high
        }
    }

    private static String charsetOf(String contentType) {
        def match = contentType =~ /(?i)charset=([^;\s]+)/
        return match.find() ? match.group(1) : 'UTF-8'
    }
}

import java.net.http.HttpClient
import java.net.http.HttpConnectTimeoutException
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.net.http.HttpTimeoutException
import java.nio.charset.StandardCharsets
import java.time.Duration

/**
 * The HTTP Request plugin's httpRequest step, done for real with java.net.http (which, unlike HttpURLConnection,
 * sends PATCH): same parameter names, seconds for timeout (connect and answer), validResponseCodes checked the
 * plugin's way, masked headers in the log, and a response with .status and .content.
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

        HttpRequest.Builder request = HttpRequest.newBuilder(new URI(args.url.toString()))
        if (timeoutMillis > 0) {
            request.timeout(Duration.ofMillis(timeoutMillis))
        }
        say("HttpMethod: ${method}")
        say("URL: ${args.url}")
        String contentType = CONTENT_TYPES.containsKey(args.contentType ?: 'NOT_SET') ?
            CONTENT_TYPES[args.contentType ?: 'NOT_SET'] : null
        if (args.contentType && !CONTENT_TYPES.containsKey(args.contentType)) {
            throw new IllegalArgumentException("httpRequest: unknown contentType ${args.contentType}")
        }
        if (contentType) {
            request.header('Content-Type', contentType)
            say("Content-Type: ${contentType}")
        }
        if (args.acceptType && CONTENT_TYPES[args.acceptType]) {
            request.header('Accept', CONTENT_TYPES[args.acceptType])
        }
        (args.customHeaders ?: []).each { Map header ->
            request.header(header.name.toString(), header.value.toString())
            say("${header.name}: ${header.maskValue ? '*****' : header.value}")
        }
        say("Sending request to url: ${args.url}")
        boolean hasBody = args.requestBody != null && method in ['POST', 'PUT', 'PATCH', 'DELETE']
        request.method(method, hasBody ? HttpRequest.BodyPublishers.ofString(args.requestBody.toString(),
            StandardCharsets.UTF_8) : HttpRequest.BodyPublishers.noBody())
        HttpClient.Builder client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NORMAL)
        if (timeoutMillis > 0) {
            client.connectTimeout(Duration.ofMillis(timeoutMillis))
        }
        HttpResponse<byte[]> response = exchange(client.build(), request.build())
        int status = response.statusCode()
        String content = new String(response.body(), charsetOf(response.headers().firstValue('Content-Type')
            .orElse('')))
        Map<String, List<String>> headers = response.headers().map()
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

    /**
     * Sends the request, failing as the plugin (Apache HttpClient) does: a refused connection is a ConnectException,
     * a timeout a SocketTimeoutException, rather than java.net.http's own exceptions.
     */
    private static HttpResponse<byte[]> exchange(HttpClient client, HttpRequest request) {
        try {
            return client.send(request, HttpResponse.BodyHandlers.ofByteArray())
        } catch (HttpConnectTimeoutException e) {
            throw new SocketTimeoutException('connect timed out')
        } catch (HttpTimeoutException e) {
            throw new SocketTimeoutException('Read timed out')
        } catch (ConnectException e) {
            throw new ConnectException(e.message ?: 'Connection refused')
        }
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

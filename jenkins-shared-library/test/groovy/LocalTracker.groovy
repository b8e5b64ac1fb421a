import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer

/**
 * A scripted stand-in for the Change Tracker service on a loopback port, for tests of the real HTTP path:
 * it keeps every request (method, path, headers, raw body bytes) and answers from a queue.
 */
class LocalTracker implements Closeable {
    static class Received {
        String method
        String path
        Map<String, List<String>> headers
        byte[] body

        String header(String name) {
            return headers.find { it.key.equalsIgnoreCase(name) }?.value?.first()
        }

        String text() {
            return new String(body, 'UTF-8')
        }
    }

    static class Answer {
        int status
        String body
        long delayMillis
    }

    final List<Received> received = Collections.synchronizedList([])
    private final List<Answer> answers = Collections.synchronizedList([])
    private final HttpServer server

    LocalTracker() {
        server = HttpServer.create(new InetSocketAddress(InetAddress.loopbackAddress, 0), 0)
        server.createContext('/') { HttpExchange exchange -> handle(exchange) }
        server.executor = java.util.concurrent.Executors.newCachedThreadPool()
        server.start()
    }

    String getUrl() {
        return "http://127.0.0.1:${server.address.port}"
    }

    /** Queues an answer; when the queue is empty every request gets 201 with id 1. */
    LocalTracker answer(int status, String body, long delayMillis = 0) {
        answers << new Answer(status: status, body: body, delayMillis: delayMillis)
        return this
    }

    void close() {
        server.stop(0)
        server.executor.shutdownNow()
    }

    private void handle(HttpExchange exchange) {
        try {
            received << new Received(method: exchange.requestMethod, path: exchange.requestURI.toString(),
                headers: new LinkedHashMap(exchange.requestHeaders), body: exchange.requestBody.bytes)
            Answer answer = answers ? answers.remove(0) : new Answer(status: 201, body: '{"id": 1}')
            if (answer.delayMillis) {
                Thread.sleep(answer.delayMillis)
            }
            byte[] bytes = (answer.body ?: '').getBytes('UTF-8')
            exchange.responseHeaders.add('Content-Type', 'application/json; charset=utf-8')
            exchange.sendResponseHeaders(answer.status, bytes.length ?: -1)
            if (bytes.length) {
                exchange.responseBody.write(bytes)
            }
        } catch (IOException ignored) {
            // the client gave up (a timeout test): nothing to answer
        } catch (InterruptedException ignored) {
            // close() while an answer was being delayed
        } finally {
            exchange.close()
        }
    }
}

import groovy.json.JsonSlurperClassic
import io.changetracker.LibraryVersion

/**
 * Shared set-up for step tests: a harness with a realistic build environment, a token credential, and a fake
 * httpRequest that records each call and answers from a queue (201 {"id": 42} when the queue is empty).
 */
// Abstract so that JUnit does not run the base on its own; it has no abstract method to ask of the step tests.
// groovylint-disable-next-line AbstractClassWithoutAbstractMethod
abstract class BasePipelineTest extends GroovyTestCase {
    public static final String TOKEN = 'ct_s3cr3t-T0KEN-value'
    public static final String TRACKER = 'https://changes.example.test'
    public static final Map<String, String> BUILD_ENV = [
        JOB_NAME          : 'platform/agent-images/main',
        BUILD_NUMBER      : '128',
        BUILD_URL         : 'https://jenkins.example.test/job/platform/job/agent-images/job/main/128/',
        NODE_NAME         : 'linux-07',
        NODE_LABELS       : 'linux docker jdk17 linux-07',
        CHANGETRACKER_URL: TRACKER,
    ].asImmutable()

    PipelineHarness harness
    /** Queued answers of the fake httpRequest: a response map or a Throwable to throw. */
    List answers = []

    /**
     * A fresh harness, as inside node { } on linux-07 with its workspace. A test may call it again for a second
     * case: the harness it replaces is first held to the same rule as at the end, no token in its log.
     */
    @Override
    protected void setUp() {
        super.setUp()
        closeHarness()
        harness = new PipelineHarness(PipelineHarness.findLibraryRoot())
        harness.env.putAll(BUILD_ENV)
        harness.env.WORKSPACE = harness.workspaceDir().path
        harness.credentials['change-tracker-token'] = TOKEN
        harness.transport = { Map args ->
            def next = answers ? answers.remove(0) : [status: 201, content: '{"id": 42, "count": 1}']
            if (next instanceof Throwable) {
                throw next
            }
            return next
        }
    }

    /** Whatever a test did, the token never reached the console (the Bad input cases of issue 5 included). */
    @Override
    protected void tearDown() {
        closeHarness()
        super.tearDown()
    }

    private void closeHarness() {
        if (harness != null) {
            PipelineHarness done = harness
            harness = null
            done.close()
            List<String> leaks = done.log.findAll { it.contains(TOKEN) }
            assert leaks.isEmpty(): "the token reached the console: ${leaks}"
        }
    }

    /** Queues an answer of the fake tracker; a Map or List body is sent as JSON. */
    void answer(int status, Object body = null) {
        String content = body instanceof CharSequence ? body.toString() :
            body == null ? '' : groovy.json.JsonOutput.toJson(body)
        answers << [status: status, content: content]
    }

    void answerUnreachable(int times = 1) {
        times.times { answers << new ConnectException('Connection refused') }
    }

    /** Runs suspectChanges(...) like a pipeline would. */
    List suspectChanges(Map config = [:]) {
        return (List) harness.step('suspectChanges').invokeMethod('call', [config] as Object[])
    }

    /** Runs the step's call(...) like a pipeline would. */
    def recordChange(Map config, Closure body = null) {
        Script step = harness.step('recordChange')
        return body == null ? step.invokeMethod('call', [config] as Object[]) :
            step.invokeMethod('call', [config, body] as Object[])
    }

    /** The JSON body of the n-th httpRequest, parsed back into maps and lists. */
    Map sentBody(int index = 0) {
        assert harness.httpRequests.size() > index:
            "expected at least ${index + 1} httpRequest call(s), got ${harness.httpRequests.size()}"
        return (Map) new JsonSlurperClassic().parseText(harness.httpRequests[index].requestBody as String)
    }

    /** The n-th httpRequest's URL without its query string. */
    String pathOf(int index = 0) {
        String url = harness.httpRequests[index].url
        return url.contains('?') ? url.substring(0, url.indexOf('?')) : url
    }

    /** The query parameters of the n-th httpRequest, decoded: name -> values, in order. */
    Map<String, List<String>> queryOf(int index = 0) {
        String url = harness.httpRequests[index].url
        return url.contains('?') ? decodeQuery(url.substring(url.indexOf('?') + 1)) : [:]
    }

    static Map<String, List<String>> decodeQuery(String query) {
        Map<String, List<String>> parameters = [:]
        query.split('&').each { String pair ->
            List<String> parts = pair.split('=', 2) as List
            parameters.get(URLDecoder.decode(parts[0], 'UTF-8'), []) <<
                URLDecoder.decode(parts.size() > 1 ? parts[1] : '', 'UTF-8')
        }
        return parameters
    }

    /** The headers of every request to the tracker: the token (masked in the log) and the library's release. */
    static List<Map> headers() {
        return [[name: 'Authorization', value: 'Bearer ' + TOKEN, maskValue: true],
                [name: 'User-Agent', value: 'changetracker-jenkins-library/' + LibraryVersion.VERSION, maskValue: true]]
    }

    /** The failure message of an error step (or of any other throw) in {@code code}, logged as Jenkins would. */
    String failureOf(Closure code) {
        try {
            code()
        } catch (Throwable e) {  // groovylint-disable-line CatchThrowable
            // Any failure will do: the caller asserts on its message.
            if (harness.log.empty || harness.log.last() != 'ERROR: ' + e.message) {
                harness.echoLine('ERROR: ' + e.message)
            }
            return e.message
        }
        fail('expected the step to fail')
    }

    void assertNoSecretEchoed() {
        List<String> leaks = harness.log.findAll { it.contains(TOKEN) }
        assert leaks.isEmpty(): "the token was echoed: ${leaks}"
    }

    void assertLogContains(String text) {
        assert harness.log.any { it.contains(text) }: "no echoed line contains '${text}':\n${harness.log.join('\n')}"
    }
}

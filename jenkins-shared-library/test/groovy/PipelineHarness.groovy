import org.codehaus.groovy.runtime.InvokerHelper

/**
 * A pipeline context without Jenkins, the way JenkinsPipelineUnit builds one: the library's vars/ scripts are
 * compiled with GroovyShell against src/ and share one Binding whose closures stand in for the steps (echo,
 * error, sleep, withCredentials, string, httpRequest, addBadge) and whose variables are env and currentBuild.
 * A vars script calling echo(...) finds no such method on itself, so Groovy's Script falls back to the binding.
 *
 * Unlike Jenkins, nothing is masked: a secret that reaches the console shows up in {@link #log}, which is the
 * point. httpRequest performs real HTTP unless a test swaps {@link #transport} for a fake.
 */
class PipelineHarness {
    /** Compiled library classes and vars scripts, shared by every harness in the JVM (compiling is the slow part). */
    private static final Map<String, GroovyClassLoader> LOADERS = [:]
    private static final Map<String, Class> SCRIPTS = [:]

    final File libraryRoot
    final Binding binding = new Binding()
    final Map<String, Object> env = [:]
    /** Secret text credentials by id. */
    final Map<String, String> credentials = [:]
    /** Every echoed line, in order. */
    final List<String> log = []
    /** The arguments of every httpRequest call, in order. */
    final List<Map> httpRequests = []
    final List<Map> sleeps = []
    final List<Map> badges = []
    final RunStandIn currentBuild = new RunStandIn()

    /** Answers httpRequest: (Map args) -> response with .status and .content. Real HTTP by default. */
    Closure transport = { Map args -> HttpRequestStandIn.send(args, { String line -> echoLine(line) }) }
    /** false: addBadge fails as in a Jenkins without the Badge plugin. */
    boolean badgePluginInstalled = true
    /** true: also print echoed lines as they come (the command-line runner). */
    boolean printLog = false
    /** true: sleep really waits. Tests keep it off to stay fast and only look at what was asked. */
    boolean realSleep = false

    PipelineHarness(File libraryRoot) {
        this.libraryRoot = libraryRoot.canonicalFile
        binding.setVariable('env', env)
        binding.setVariable('currentBuild', currentBuild)
        registerSteps()
        registerLibrarySteps()
    }

    /** The library's root: -Dchangetracker.library, else found upwards from the working directory. */
    static File findLibraryRoot() {
        String configured = System.getProperty('changetracker.library')
        if (configured) {
            return new File(configured)
        }
        File dir = new File('.').canonicalFile
        while (dir != null && !new File(dir, 'vars').isDirectory()) {
            File nested = new File(dir, 'jenkins-shared-library')
            dir = nested.isDirectory() ? nested : dir.parentFile
        }
        assert dir != null: 'run from the repository or set -Dchangetracker.library'
        return dir
    }

    /** The vars/<name>.groovy script bound to this harness, e.g. step('recordChange').call(title: 'x'). */
    Script step(String name) {
        File file = new File(libraryRoot, "vars/${name}.groovy")
        if (!file.isFile()) {
            throw new IllegalArgumentException("no step ${file}")
        }
        String key = file.path + '@' + file.lastModified()
        Class scriptClass
        synchronized (SCRIPTS) {
            scriptClass = SCRIPTS[key]
            if (scriptClass == null) {
                scriptClass = new GroovyShell(loader(), new Binding()).parse(file).getClass()
                SCRIPTS[key] = scriptClass
            }
        }
        return InvokerHelper.createScript(scriptClass, binding)
    }

    /** Runs a Jenkinsfile-like script in which every vars/ step is callable by name. */
    Object runPipeline(String text, String name = 'Jenkinsfile') {
        Script pipeline = new GroovyShell(loader(), binding).parse(text, name.replaceAll(/\W/, '_'))
        try {
            Object value = pipeline.run()
            currentBuild.result = 'SUCCESS'
            return value
        } catch (InterruptedException e) {
            currentBuild.result = 'ABORTED'
            throw e
        } catch (Throwable e) {  // groovylint-disable-line CatchThrowable
            // As in Jenkins, anything else a pipeline throws fails the build.
            currentBuild.result = 'FAILURE'
            throw e
        }
    }

    /** All of the library's steps, by name (vars/*.groovy). */
    List<String> libraryStepNames() {
        return (new File(libraryRoot, 'vars').list() ?: [] as String[])
            .findAll { it.endsWith('.groovy') }.collect { it - '.groovy' }.sort()
    }

    private GroovyClassLoader loader() {
        synchronized (LOADERS) {
            GroovyClassLoader loader = LOADERS[libraryRoot.path]
            if (loader == null) {
                loader = new GroovyClassLoader(PipelineHarness.classLoader)
                loader.addClasspath(new File(libraryRoot, 'src').path)
                loader.addClasspath(new File(libraryRoot, 'test/stubs').path)
                LOADERS[libraryRoot.path] = loader
            }
            return loader
        }
    }

    private void echoLine(Object message) {
        String line = String.valueOf(message)
        log << line
        if (printLog) {
            println line
        }
    }

    private void registerSteps() {
        binding.setVariable('echo', { Object message -> echoLine(message) })
        binding.setVariable('error', { Object message -> throw new PipelineAbort(String.valueOf(message)) })
        binding.setVariable('sleep', { Object args ->
            Map request = args instanceof Map ? new LinkedHashMap((Map) args) : [time: args, unit: 'SECONDS']
            sleeps << request
            if (realSleep) {
                Thread.sleep(java.util.concurrent.TimeUnit.valueOf((request.unit ?: 'SECONDS').toString())
                    .toMillis(request.time as long))
            }
        })
        binding.setVariable('string', { Map args ->
            [$class: 'StringBinding', credentialsId: args.credentialsId, variable: args.variable]
        })
        binding.setVariable('withCredentials', { List bindings, Closure body ->
            bindings.each { Map secret ->
                if (!credentials.containsKey(secret.credentialsId)) {
                    throw new PipelineAbort("Could not find credentials entry with ID '${secret.credentialsId}'")
                }
            }
            Map saved = [:]
            bindings.each { Map secret ->
                saved[secret.variable] = env[secret.variable]
                env[secret.variable] = credentials[secret.credentialsId]
            }
            try {
                return body()
            } finally {
                saved.each { variable, value ->
                    if (value == null) {
                        env.remove(variable)
                    } else {
                        env[variable] = value
                    }
                }
            }
        })
        binding.setVariable('httpRequest', { Map args ->
            httpRequests << new LinkedHashMap(args)
            return transport.call(args)
        })
        binding.setVariable('addBadge', { Map args ->
            if (!badgePluginInstalled) {
                throw new NoSuchMethodError("No such DSL method 'addBadge' found among steps " +
                    '[echo, error, httpRequest, sleep, withCredentials]')
            }
            badges << new LinkedHashMap(args)
            return null
        })
    }

    /** As in Jenkins, recordChange(...) in a pipeline calls the global variable's call method. */
    private void registerLibrarySteps() {
        libraryStepNames().each { String name ->
            binding.setVariable(name, { Object[] args -> step(name).invokeMethod('call', args) })
        }
    }
}

import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.customizers.ImportCustomizer
import org.codehaus.groovy.runtime.InvokerHelper

/**
 * A pipeline context without Jenkins, the way JenkinsPipelineUnit builds one: the library's vars/ scripts are
 * compiled with GroovyShell against src/ and share one Binding whose closures stand in for the steps (echo,
 * error, sleep, withCredentials, string, httpRequest, addBadge, addSummary, node, sh, isUnix, pwd, writeFile, readFile,
 * withEnv, script) and whose variables are env and currentBuild; pipeline { } runs through DeclarativeStandIn.
 * A vars script calling echo(...) finds no such method on itself, so Groovy's Script falls back to the binding.
 *
 * Unlike Jenkins, nothing is masked: a secret that reaches the console shows up in {@link #log}, which is the
 * point. httpRequest performs real HTTP unless a test swaps {@link #transport} for a fake, and sh runs real
 * shell scripts in a workspace (a temporary folder unless set) unless a test swaps {@link #shell}.
 */
class PipelineHarness implements Closeable {
    /** Compiled library classes and vars scripts, shared by every harness in the JVM (compiling is the slow part). */
    private static final Map<String, GroovyClassLoader> LOADERS = [:]
    private static final Map<String, Class> SCRIPTS = [:]
    private static final Object NOTHING = new Object()

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
    /** The arguments of every addSummary call (the Badge plugin's build summary lines), in order. */
    final List<Map> summaries = []
    /** The arguments of every sh call, in order. */
    final List<Map> shellCalls = []
    final RunStandIn currentBuild = new RunStandIn()
    /** The agent node { } and a Declarative agent run on: its name and labels (NODE_NAME, NODE_LABELS). */
    final Map<String, String> agent = [name: 'agent-1', labels: 'linux']
    /** The agent's workspace (WORKSPACE inside node { }); a temporary folder, made when first needed, by default. */
    File workspace

    /** Answers httpRequest: (Map args) -> response with .status and .content. Real HTTP by default. */
    Closure transport = { Map args -> HttpRequestStandIn.send(args, { String line -> echoLine(line) }) }
    /** Runs sh: (Map args) -> stdout, status or null. A real shell in the workspace by default. */
    Closure shell = { Map args ->
        ShellStandIn.run(args, new File(env.WORKSPACE.toString()), env, { String line -> echoLine(line) })
    }
    /** false: no httpRequest step, as in a Jenkins without the HTTP Request plugin. */
    boolean httpRequestPluginInstalled = true
    /** false: addBadge fails as in a Jenkins without the Badge plugin. */
    boolean badgePluginInstalled = true
    /** false: the agent is a Windows one (isUnix() is false). */
    boolean unixAgent = true
    /** true: also print echoed lines as they come (the command-line runner). */
    boolean printLog = false
    /** true: sleep really waits. Tests keep it off to stay fast and only look at what was asked. */
    boolean realSleep = false

    private boolean createdWorkspace = false

    PipelineHarness(File libraryRoot) {
        this.libraryRoot = libraryRoot.canonicalFile
        binding.setVariable('env', env)
        binding.setVariable('currentBuild', currentBuild)
        registerSteps()
        registerAgentSteps()
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

    /**
     * Runs a Jenkinsfile-like script, Scripted or Declarative, in which every vars/ step is callable by name and
     * {@code @Library('change-tracker') _} compiles (Jenkins imports the annotation into every Jenkinsfile).
     * A failure is logged as Jenkins logs it ("ERROR: message"), then thrown.
     */
    Object runPipeline(String text, String name = 'Jenkinsfile') {
        CompilerConfiguration compiler = new CompilerConfiguration()
        compiler.addCompilationCustomizers(new ImportCustomizer().addStarImports('org.jenkinsci.plugins.workflow.libs'))
        Script pipeline = new GroovyShell(loader(), binding, compiler).parse(text, name.replaceAll(/\W/, '_'))
        binding.setVariable('pipeline', { Closure body -> new DeclarativeStandIn(this, pipeline).declare(body).run() })
        try {
            Object value = pipeline.run()
            currentBuild.result = 'SUCCESS'
            return value
        } catch (InterruptedException e) {
            currentBuild.result = 'ABORTED'
            echoLine('ERROR: ' + (e.message ?: e.getClass().name))
            throw e
        } catch (Throwable e) {  // groovylint-disable-line CatchThrowable
            // As in Jenkins, anything else a pipeline throws fails the build.
            currentBuild.result = 'FAILURE'
            echoLine('ERROR: ' + (e.message ?: e.getClass().name))
            throw e
        }
    }

    /**
     * Runs {@code body} on the agent, as node(label) { } does: NODE_NAME, NODE_LABELS and WORKSPACE are set inside.
     * A label the agent does not have fails (Jenkins would wait for such an agent forever).
     */
    Object onAgent(String label, Closure body) {
        List<String> labels = (agent.labels ?: '').split(/\s+/).findAll { it } + [agent.name]
        boolean matches = label == null || label.split(/\|\|/).any { String any ->
            any.split('&&').every { String one -> labels.contains(one.trim()) }
        }
        if (!matches) {
            throw new PipelineAbort("no agent with label '${label}': the harness's agent ${agent.name} has " +
                "${labels.join(' ')}")
        }
        return withEnvironment([NODE_NAME: agent.name, NODE_LABELS: labels.join(' '), WORKSPACE: workspaceDir().path],
            body)
    }

    /** Runs {@code body} with {@code values} in env, then puts env back as it was. */
    Object withEnvironment(Map values, Closure body) {
        Map saved = [:]
        (values ?: [:]).each { key, value ->
            saved[key] = env.containsKey(key) ? env[key] : NOTHING
            env[key.toString()] = value == null ? null : value.toString()
        }
        try {
            return body()
        } finally {
            saved.each { key, value ->
                if (value.is(NOTHING)) {
                    env.remove(key)
                } else {
                    env[key] = value
                }
            }
        }
    }

    /** The workspace, made on first use. */
    File workspaceDir() {
        if (workspace == null) {
            workspace = File.createTempDir('workspace', '')
            createdWorkspace = true
        }
        return workspace
    }

    /** Removes the workspace if the harness made it. */
    @Override
    void close() {
        if (createdWorkspace) {
            workspace.deleteDir()
            new File(workspace.path + '@tmp').deleteDir()
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

    void echoLine(Object message) {
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
            if (!httpRequestPluginInstalled) {
                throw new NoSuchMethodError("No such DSL method 'httpRequest' found among steps [echo, error, sh]")
            }
            httpRequests << new LinkedHashMap(args)
            return transport.call(args)
        })
        registerBadgeStep('addBadge', badges)
        registerBadgeStep('addSummary', summaries)
    }

    /** A step of the Badge plugin, which keeps what it was given in {@code calls}. */
    private void registerBadgeStep(String name, List<Map> calls) {
        binding.setVariable(name, { Map args ->
            if (!badgePluginInstalled) {
                throw new NoSuchMethodError("No such DSL method '${name}' found among steps " +
                    '[echo, error, httpRequest, sleep, withCredentials]')
            }
            calls << new LinkedHashMap(args)
            return null
        })
    }

    /** The steps that need an agent: node, sh and the workspace's, and withEnv and script that go with them. */
    private void registerAgentSteps() {
        binding.setVariable('node', { Object[] args ->
            onAgent(args.length > 1 ? String.valueOf(args[0]) : null, (Closure) args[-1])
        })
        binding.setVariable('sh', { Object args ->
            Map request = args instanceof Map ? new LinkedHashMap((Map) args) : [script: args]
            workspaceOfNode('sh')
            shellCalls << request
            return shell.call(request)
        })
        binding.setVariable('isUnix', { ->
            workspaceOfNode('isUnix')
            return unixAgent
        })
        binding.setVariable('pwd', { Map args = [:] ->
            File dir = workspaceOfNode('pwd')
            return args?.tmp == true ? dir.path + '@tmp' : dir.path
        })
        binding.setVariable('writeFile', { Map args ->
            File file = fileInWorkspace(String.valueOf(args.file), 'writeFile')
            file.parentFile.mkdirs()
            file.setText(String.valueOf(args.text), (args.encoding ?: 'UTF-8').toString())
        })
        binding.setVariable('readFile', { Object args ->
            Map request = args instanceof Map ? (Map) args : [file: args]
            return fileInWorkspace(String.valueOf(request.file), 'readFile').getText(
                (request.encoding ?: 'UTF-8').toString())
        })
        binding.setVariable('withEnv', { List overrides, Closure body ->
            Map values = [:]
            overrides.each { String pair ->
                int equals = pair.indexOf('=')
                values[pair.substring(0, equals)] = pair.substring(equals + 1)
            }
            return withEnvironment(values, body)
        })
        binding.setVariable('script', { Closure body -> body() })
    }

    /** The workspace when inside node { }; a step that needs one fails outside, with Jenkins' message. */
    private File workspaceOfNode(String step) {
        if (!env.WORKSPACE) {
            throw new PipelineAbort("${step}: Required context class hudson.FilePath is missing. Perhaps you " +
                'forgot to surround the code with a step that provides this, such as: node')
        }
        return new File(env.WORKSPACE.toString())
    }

    private File fileInWorkspace(String path, String step) {
        File file = new File(path)
        return file.absolute ? file : new File(workspaceOfNode(step), path)
    }

    /** As in Jenkins, recordChange(...) in a pipeline calls the global variable's call method. */
    private void registerLibrarySteps() {
        libraryStepNames().each { String name ->
            binding.setVariable(name, { Object[] args -> step(name).invokeMethod('call', args) })
        }
    }
}

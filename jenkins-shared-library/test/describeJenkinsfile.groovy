/* groovylint-disable SystemExit, SystemErrPrint */
// A command-line tool: its JSON on stdout and its exit status are what the tests read.
/*
 * Describes a Declarative Jenkinsfile as JSON, without Jenkins, by running it with every directive and step
 * recorded instead of executed:
 *
 *   groovy jenkins-shared-library/test/describeJenkinsfile.groovy Jenkinsfile [NAME=value ...]
 *
 * with env holding the NAME=value pairs given (a job's environment variables, which a Jenkinsfile may branch on).
 * prints one line: JENKINSFILE {"step": "pipeline", "args": [], "body": [{"step": "agent", ...}, ...]}
 * Each call is {"step": name, "args": [...]} with "body" when it takes a block; a call used as another's
 * argument (logRotator(...) in buildDiscarder(...), string(...) in withCredentials([...])) appears only there.
 * So tests can check what the nightly job runs, with which credentials bound, without parsing Groovy by hand.
 */
import groovy.json.JsonOutput
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.customizers.ImportCustomizer

if (args.length < 1) {
    System.err.println 'usage: describeJenkinsfile.groovy JENKINSFILE [NAME=value ...]'
    System.exit(2)
}
Map<String, String> environment = [:]
for (String pair : (args as List).drop(1)) {
    List<String> parts = pair.split('=', 2) as List
    environment[parts[0]] = parts.size() > 1 ? parts[1] : ''
}
CompilerConfiguration compiler = new CompilerConfiguration()
compiler.scriptBaseClass = DescribedPipeline.name
// As Jenkins does, so that @Library('change-tracker') _ resolves (to the stand-in in test/stubs).
compiler.addCompilationCustomizers(new ImportCustomizer().addStarImports('org.jenkinsci.plugins.workflow.libs'))
File testDir = new File(getClass().protectionDomain.codeSource.location.toURI()).parentFile.canonicalFile
GroovyClassLoader loader = new GroovyClassLoader(DescribedPipeline.classLoader)
loader.addClasspath(new File(testDir, 'stubs').path)
GroovyShell shell = new GroovyShell(loader, new Binding([env: environment]), compiler)
DescribedPipeline pipeline = (DescribedPipeline) shell.parse(new File(args[0]).getText('UTF-8'), 'Jenkinsfile')
pipeline.run()
List<Map> top = pipeline.root.body
if (top.size() != 1 || top[0].step != 'pipeline') {
    System.err.println 'not a Declarative pipeline: expected one pipeline { } block'
    System.exit(1)
}
println 'JENKINSFILE ' + JsonOutput.toJson(top[0])

/**
 * The Jenkinsfile's base class: any method it calls is recorded in a tree of calls. Plain loops and no private
 * methods below: a name a closure here cannot resolve would land in methodMissing and be recorded as a step.
 */
// Abstract: run(), Script's abstract method, is the Jenkinsfile itself.
// groovylint-disable-next-line AbstractClassWithoutAbstractMethod
abstract class DescribedPipeline extends Script {
    final Map root = [step: '', args: [], body: []]
    final List<Map> open = [root]

    def methodMissing(String name, Object arguments) {
        List values = arguments instanceof Object[] ? (arguments as List) : [arguments]
        Closure block = values && values[-1] instanceof Closure ? (Closure) values[-1] : null
        List plain = block ? values.subList(0, values.size() - 1) : values
        List described = []
        for (Object value : plain) {
            described << adopt(value)
        }
        Map call = [step: name, args: described]
        open[-1].body << call
        if (block) {
            call.body = []
            open << call
            try {
                block.call()
            } finally {
                open.remove(open.size() - 1)
            }
        }
        return call
    }

    /** A call given as an argument belongs to the call it is given to, not to the block around both. */
    Object adopt(Object value) {
        List siblings = open[-1].body
        for (int index = siblings.size() - 1; index >= 0; index--) {
            if (siblings[index].is(value)) {
                siblings.remove(index)
                return value
            }
        }
        if (value instanceof List) {
            List items = []
            for (Object item : (List) value) {
                items << adopt(item)
            }
            return items
        }
        if (value instanceof Map) {
            Map entries = [:]
            for (Map.Entry entry : ((Map) value).entrySet()) {
                entries[String.valueOf(entry.key)] = adopt(entry.value)
            }
            return entries
        }
        return value instanceof CharSequence ? value.toString() : value
    }
}

import org.codehaus.groovy.ast.ClassNode
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.MethodNode
import org.codehaus.groovy.ast.expr.ArgumentListExpression
import org.codehaus.groovy.ast.expr.ClosureExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.Phases

/**
 * Holds every step of the library to the conventions in STYLE.md (points 10 and 11), so a new step cannot
 * quietly skip them: a call(Map config = [:]) with a defaultConfig, HTML help documenting each parameter,
 * secrets never in a GString, Serializable classes, and closure-taking collection methods only in @NonCPS code.
 */
class StepConventionsTest extends GroovyTestCase {
    /** Collection methods whose closures misbehave under CPS (sort {} silently, others in older Jenkins). */
    public static final Set<String> CLOSURE_COLLECTION_METHODS = ['each', 'eachWithIndex', 'collect', 'collectEntries',
        'collectMany', 'find', 'findAll', 'findResult', 'any', 'every', 'sort', 'toSorted', 'inject', 'groupBy',
        'countBy', 'sum', 'max', 'min', 'count', 'unique', 'split', 'withIndex', 'times', 'upto'] as Set

    private final File library = PipelineHarness.findLibraryRoot()

    List<File> steps() {
        return new File(library, 'vars').listFiles().findAll { it.name.endsWith('.groovy') }.sort { it.name }
    }

    List<File> classes() {
        List<File> files = []
        new File(library, 'src').eachFileRecurse { if (it.name.endsWith('.groovy')) { files << it } }
        return files.sort { it.path }
    }

    /** Each step and the src/ class that lists the parameters it accepts (a typo in a call is reported). */
    public static final Map<String, String> PARAMETER_CLASSES = [
        callChangeTracker: 'io.changetracker.ApiRequest',
        recordChange     : 'io.changetracker.ChangeRequest',
        suspectChanges   : 'io.changetracker.SuspectQuery',
    ].asImmutable()

    void testTheLibraryHasSteps() {
        assert steps()*.name == ['callChangeTracker.groovy', 'recordChange.groovy', 'suspectChanges.groovy']
        assert classes()
    }

    void testEveryStepTakesAConfigMapMergedOverACommentedDefaultConfig() {
        steps().each { File step ->
            String text = step.text
            assert text =~ /(?m)^def call\(Map config = \[:\]/: "${step.name}: def call(Map config = [:]...)"
            String defaults = defaultConfigOf(step)
            assert defaults: "${step.name}: a Map defaultConfig = [...]"
            assert defaults =~ /(?m)^\s*\/\//: "${step.name}: defaultConfig explains its entries"
            assert text.contains('defaultConfig, config') || text.contains('defaultConfig + config'):
                "${step.name}: merges the caller's config over defaultConfig"
        }
    }

    void testEveryStepShipsHtmlHelpDocumentingEachParameter() {
        steps().each { File step ->
            File help = new File(step.parentFile, (step.name - '.groovy') + '.txt')
            assert help.isFile(): "${step.name} needs ${help.name}"
            String html = help.text
            ['<p>', '<dl>', '</dl>', '<pre>', '</pre>'].each { assert html.contains(it): "${help.name} has ${it}" }
            parametersOf(step).each { String parameter ->
                assert html =~ /<dt>\s*<code>${parameter}<\/code>/: "${help.name} documents ${parameter} in a <dt>"
            }
        }
    }

    void testEveryStepsDefaultsAreExactlyTheParametersItAccepts() {
        GroovyClassLoader loader = new GroovyClassLoader(getClass().classLoader)
        loader.addClasspath(new File(library, 'src').path)
        loader.addClasspath(new File(library, 'test/stubs').path)
        steps().each { File step ->
            String name = step.name - '.groovy'
            assert PARAMETER_CLASSES.containsKey(name): "${name}: name the class whose PARAMETERS it accepts"
            List accepted = loader.loadClass(PARAMETER_CLASSES[name]).PARAMETERS
            assert parametersOf(step).sort() == accepted.sort(false): "${name}: defaultConfig == PARAMETERS"
        }
    }

    void testSecretsAreNeverInterpolatedOrEchoed() {
        (steps() + classes()).each { File file ->
            String text = file.text
            List<String> variables = (text =~ /variable:\s*['"](\w+)['"]/).collect { it[1] }
            variables.each { String variable ->
                assert !(text =~ /\$\{?\s*(env\.)?${variable}\b/): "${file.name} puts ${variable} into a GString"
                assert !(text =~ /(?m)^.*\becho\b.*\b${variable}\b/): "${file.name} echoes ${variable}"
            }
            assert !(text =~ /"Bearer \$/): "${file.name} builds an Authorization header from a GString"
            assert !(text =~ /\bsh\s*\(?\s*(script:\s*)?"/): "${file.name} runs a shell script made from a GString"
            assert !(text =~ /(?i)maskValue:\s*false/): "${file.name} shows a header value in the log"
        }
    }

    void testLibraryClassesAreSerializableAndRunNoCpsCode() {
        classes().each { File file ->
            parse(file).each { ClassNode type ->
                assert type.interfaces*.name.contains('java.io.Serializable'): "${type.name} implements Serializable"
                type.methods.findAll { !it.synthetic }.each { MethodNode method ->
                    assert isNonCps(method): "${type.name}.${method.name} is @NonCPS (a pure computation)"
                }
            }
        }
    }

    /** Jenkins' steps the library uses, and its own: a @NonCPS method runs outside CPS, where no step may be called. */
    public static final Set<String> PIPELINE_STEPS = ['echo', 'error', 'sh', 'bat', 'sleep', 'withCredentials',
        'withEnv', 'httpRequest', 'addBadge', 'addSummary', 'writeFile', 'readFile', 'pwd', 'isUnix', 'node',
        'timeout', 'retry', 'callChangeTracker', 'recordChange', 'suspectChanges'] as Set

    void testNonCpsMethodsCallNoSteps() {
        assert PIPELINE_STEPS.containsAll(steps()*.name*.minus('.groovy'))
        (steps() + classes()).each { File file ->
            parse(file).each { ClassNode type ->
                type.methods.findAll { !it.synthetic && isNonCps(it) && it.code }.each { MethodNode method ->
                    List<String> calls = []
                    method.code.visit(new CodeVisitorSupport() {
                        @Override
                        void visitMethodCallExpression(MethodCallExpression call) {
                            if (call.implicitThis && PIPELINE_STEPS.contains(call.methodAsString)) {
                                calls << "${call.methodAsString} (line ${call.lineNumber})".toString()
                            }
                            super.visitMethodCallExpression(call)
                        }
                    })
                    assert calls.isEmpty(): "${file.name}: @NonCPS ${method.name}() calls steps ${calls}"
                }
            }
        }
    }

    void testClosureCollectionMethodsOnlyInNonCpsCode() {
        (steps() + classes()).each { File file ->
            parse(file).each { ClassNode type ->
                type.methods.findAll { !it.synthetic && !isNonCps(it) && it.code }.each { MethodNode method ->
                    List<String> calls = closureCollectionCalls(method)
                    assert calls.isEmpty(): "${file.name}: ${method.name}() calls ${calls} outside @NonCPS"
                }
            }
        }
    }

    /** The keys of a step's defaultConfig map literal. */
    private List<String> parametersOf(File step) {
        return defaultConfigOf(step).readLines().findAll { !it.trim().startsWith('//') }
            .collect { (it =~ /^\s*(\w+)\s*:/) }.findAll { it.find() }.collect { it.group(1) }
    }

    private String defaultConfigOf(File step) {
        def match = step.text =~ /(?s)Map defaultConfig = \[(.*?)\n\s*\]\n/
        return match.find() ? match.group(1) : ''
    }

    private List<ClassNode> parse(File file) {
        CompilerConfiguration config = new CompilerConfiguration()
        config.classpathList = [new File(library, 'src').path, new File(library, 'test/stubs').path]
        CompilationUnit unit = new CompilationUnit(config, null, new GroovyClassLoader(getClass().classLoader))
        unit.addSource(file)
        unit.compile(Phases.SEMANTIC_ANALYSIS)
        return unit.AST.classes
    }

    private static boolean isNonCps(MethodNode method) {
        return method.annotations.any { it.classNode.nameWithoutPackage == 'NonCPS' }
    }

    private static List<String> closureCollectionCalls(MethodNode method) {
        List<String> found = []
        method.code.visit(new CodeVisitorSupport() {
            @Override
            void visitMethodCallExpression(MethodCallExpression call) {
                def arguments = call.arguments
                boolean takesClosure = arguments instanceof ArgumentListExpression &&
                    arguments.expressions.any { it instanceof ClosureExpression }
                if (takesClosure && CLOSURE_COLLECTION_METHODS.contains(call.methodAsString)) {
                    found << "${call.methodAsString} {} (line ${call.lineNumber})".toString()
                }
                super.visitMethodCallExpression(call)
            }
        })
        return found
    }
}

/* groovylint-disable SystemExit */
// A command-line runner: its exit status is how pytest and people learn whether the tests passed.
/*
 * Runs the shared library's unit tests in one JVM with only what Debian's groovy package ships (JUnit 4 and
 * groovy-test are on its classpath):
 *
 *   groovy jenkins-shared-library/test/runTests.groovy [TestClassName ...]
 *
 * Prints one line per test, the failures with their traces, and last a machine-readable summary line:
 *   GROOVY-TEST-SUMMARY {"run": 42, "passed": 42, "failed": 0, "ignored": 0, ...}
 * Exits 0 only when every test passed.
 */
import groovy.json.JsonOutput
import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Result
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener

import java.lang.reflect.Modifier

File testDir = new File(getClass().protectionDomain.codeSource.location.toURI()).parentFile.canonicalFile
File library = testDir.parentFile
File testSources = new File(testDir, 'groovy')
System.setProperty('changetracker.library', library.path)

GroovyClassLoader loader = new GroovyClassLoader(getClass().classLoader)
[new File(library, 'src'), new File(testDir, 'stubs'), testSources].each { loader.addClasspath(it.path) }

List<String> names = args ? args as List :
    testSources.list().findAll { it.endsWith('Test.groovy') }.collect { it - '.groovy' }.sort()
List<Class> testClasses = names.collect { loader.loadClass(it) }.findAll { !Modifier.isAbstract(it.modifiers) }

List<Map> failures = []
Set<String> failed = [] as Set
JUnitCore junit = new JUnitCore()
junit.addListener(new RunListener() {
    @Override
    void testFailure(Failure failure) {
        failed << failure.description.displayName
        failures << [test: failure.description.displayName, message: String.valueOf(failure.message)]
        println "FAIL  ${failure.description.displayName}"
    }

    @Override
    void testFinished(Description description) {
        if (!failed.contains(description.displayName)) {
            println "ok    ${description.displayName}"
        }
    }
})
Result result = junit.run(testClasses as Class[])

result.failures.each { Failure failure ->
    println ''
    println "=== ${failure.description.displayName}"
    String noise = /^\s+at (sun\.|java\.|jdk\.|org\.codehaus\.groovy\.|groovy\.lang\.|org\.junit\.|junit\.)/
    println failure.trace.readLines().findAll { String line -> !(line =~ noise) }.join('\n')
}
println ''
println 'GROOVY-TEST-SUMMARY ' + JsonOutput.toJson([
    run    : result.runCount,
    passed : result.runCount - result.failureCount,
    failed : result.failureCount,
    ignored: result.ignoreCount,
    seconds: result.runTime / 1000.0,
    classes: testClasses*.name,
    failures: failures,
])
System.exit(result.wasSuccessful() && result.runCount > 0 ? 0 : 1)

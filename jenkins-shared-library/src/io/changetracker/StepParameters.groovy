package io.changetracker

import com.cloudbees.groovy.cps.NonCPS

import java.time.Instant
import java.time.temporal.ChronoUnit

/**
 * What every step does with its parameters: merge them over its defaults, name the unknown ones, check the
 * tracker's URL, the credential and the timeout, clean lists of names, and copy them into plain values that
 * survive CPS serialisation. Each problem names its parameter, so a bad call is caught before any HTTP.
 */
class StepParameters implements Serializable {
    private static final long serialVersionUID = 1L

    /** The tracker's limit on agent, tool and toolchain names (app/ledger/schemas.py). */
    static final int NAME_MAX = 200
    static final int DEFAULT_TIMEOUT = 10

    /** The caller's parameters over the defaults; a parameter passed as null keeps its default. */
    @NonCPS
    static Map withDefaults(Map defaults, Map config) {
        Map merged = new LinkedHashMap(defaults ?: [:])
        (config ?: [:]).each { key, value ->
            if (value != null) {
                merged[String.valueOf(key)] = value
            }
        }
        return merged
    }

    /** Now, as ISO 8601 in UTC with millisecond precision (the tracker wants an offset). */
    @NonCPS
    static String now() {
        return Instant.now().truncatedTo(ChronoUnit.MILLIS).toString()
    }

    /** One problem per parameter not in {@code known}: most likely a typo worth reporting. */
    @NonCPS
    static List<String> unknownProblems(Map config, List<String> known) {
        List unknown = config.keySet().findAll { key -> !known.contains(key) }.sort()
        return unknown.collect { key -> "unknown parameter '${key}' (known: ${known.join(', ')})".toString() }
    }

    /** The problems with url, credentialsId and timeout, which every step that talks to the tracker takes. */
    @NonCPS
    static List<String> connectionProblems(Map config) {
        List<String> problems = []
        def url = config.url
        if (url == null || !url.toString().trim()) {
            problems << 'url is required: pass url: or set the CHANGETRACKER_URL environment variable'
        } else if (!(url.toString().trim() ==~ /(?i)https?:\/\/[^\s\/]+.*/)) {
            problems << "url must start with http:// or https:// (got '${url}')".toString()
        }
        if (config.credentialsId == null || !config.credentialsId.toString().trim()) {
            problems << 'credentialsId is required: the ID of a Secret text credential holding a Change Tracker token'
        }
        if (positiveInteger(config.timeout) == null) {
            problems << "timeout must be a whole number of seconds greater than 0 (got '${config.timeout}')".toString()
        }
        return problems
    }

    /** The tracker's base URL without blanks and trailing slashes, e.g. https://changes.example.com. */
    @NonCPS
    static String baseUrl(Object url) {
        return String.valueOf(url).trim().replaceAll('/+$', '')
    }

    @NonCPS
    static String credentialsId(Object value) {
        return String.valueOf(value).trim()
    }

    @NonCPS
    static int timeout(Object value) {
        return positiveInteger(value) ?: DEFAULT_TIMEOUT
    }

    /** A whole number greater than 0 (a number or its digits), else null. */
    @NonCPS
    static Integer positiveInteger(Object value) {
        Integer number = null
        if (value instanceof Integer || value instanceof Long || value instanceof Short) {
            number = value > 0 && value <= Integer.MAX_VALUE ? value as Integer : null
        } else if (value instanceof CharSequence && value.toString().isInteger()) {
            number = value.toString().toInteger() > 0 ? value.toString().toInteger() : null
        }
        return number
    }

    /** A name or a list of names, without blanks and repeats; null entries (an unset variable) are dropped. */
    @NonCPS
    static List<String> names(Object value) {
        Collection values = value instanceof Collection ? (Collection) value :
            value instanceof Object[] ? (value as List) : value == null ? [] : [value]
        Set<String> names = new LinkedHashSet<String>()
        values.each { item ->
            if (item != null && item.toString().trim()) {
                names << item.toString().trim()
            }
        }
        return new ArrayList<String>(names)
    }

    /** The problems with a parameter that takes a name or a list of names, each at most {@code max} long. */
    @NonCPS
    static List<String> nameProblems(String parameter, Object value, int max) {
        if (value == null) {
            return []
        }
        boolean listLike = value instanceof Collection || value instanceof Object[]
        if (!listLike && !(value instanceof CharSequence)) {
            return ["${parameter} must be a name or a list of names".toString()]
        }
        List items = listLike ? value as List : [value]
        List<String> problems = []
        items.each { item ->
            if (item != null && !(item instanceof CharSequence)) {
                problems << "${parameter} must hold names (strings), not ${item.getClass().simpleName}".toString()
            } else if (item != null && item.toString().trim().length() > max) {
                problems << ("${parameter} entry '${item.toString().take(40)}...' is longer than ${max} " +
                    'characters').toString()
            }
        }
        return problems.unique()
    }

    /** A copy with String keys and GStrings made Strings, at any depth: the serialised program holds plain values. */
    @NonCPS
    static Map plainCopy(Map map) {
        Map copy = [:]
        (map ?: [:]).each { key, value -> copy[String.valueOf(key)] = plain(value) }
        return copy
    }

    @NonCPS
    static Object plain(Object value) {
        if (value instanceof CharSequence) {
            return value.toString()
        }
        if (value instanceof Map) {
            return plainCopy((Map) value)
        }
        if (value instanceof Collection || value instanceof Object[]) {
            return (value as List).collect { item -> plain(item) }
        }
        return value
    }
}

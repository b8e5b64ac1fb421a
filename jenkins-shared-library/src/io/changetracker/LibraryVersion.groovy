package io.changetracker

/**
 * The release of this library: the same as the tracker's (CHANGELOG.md, app.__version__; tagged vX.Y.Z), so a
 * Jenkins admin pins the library to the tag of the tracker it talks to. Every request says it in its User-Agent,
 * so the tracker's request log shows which library versions call it.
 */
class LibraryVersion implements Serializable {
    private static final long serialVersionUID = 1L

    static final String VERSION = '0.2.2'
    static final String USER_AGENT = 'changetracker-jenkins-library/' + VERSION
}

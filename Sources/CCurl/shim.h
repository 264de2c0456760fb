#ifndef AVIARY_CCURL_SHIM_H
#define AVIARY_CCURL_SHIM_H
#include <curl/curl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

/* Swift cannot call C variadic functions; these typed wrappers pass each
   option's argument with the exact C type curl reads from the va_list. */

static inline CURLcode aviary_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode aviary_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode aviary_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode aviary_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode aviary_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*aviary_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode aviary_easy_setopt_callback(CURL *h, CURLoption o, aviary_data_callback cb) { return curl_easy_setopt(h, o, cb); }

/* curl copies the blob (CURL_BLOB_COPY), so no temporary files hold keys. */
static inline CURLcode aviary_easy_setopt_blob(CURL *h, CURLoption o, void *data, size_t len) {
    struct curl_blob blob;
    blob.data = data;
    blob.len = len;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(h, o, &blob);
}

static inline CURLcode aviary_easy_getinfo_long(CURL *h, CURLINFO i, long *out) { return curl_easy_getinfo(h, i, out); }
static inline CURLcode aviary_easy_getinfo_pointer(CURL *h, CURLINFO i, void **out) { return curl_easy_getinfo(h, i, out); }
static inline CURLMcode aviary_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

/* CURL_WRITEFUNC_PAUSE is a macro Swift does not import. */
static inline size_t aviary_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }

/* The sockets one multi handle waits on, as curl_waitfd entries, so that a
   second multi handle's sockets can be passed to curl_multi_poll of the first
   and one thread can wait on both. (curl 7.88 has no curl_multi_waitfds.) */
static inline int aviary_multi_waitfds(CURLM *m, struct curl_waitfd *out, int max) {
    fd_set r, w, e;
    int maxfd = -1, n = 0;
    FD_ZERO(&r); FD_ZERO(&w); FD_ZERO(&e);
    if (curl_multi_fdset(m, &r, &w, &e, &maxfd) != CURLM_OK) return 0;
    for (int fd = 0; fd <= maxfd && n < max; fd++) {
        short ev = 0;
        if (FD_ISSET(fd, &r)) ev |= CURL_WAIT_POLLIN;
        if (FD_ISSET(fd, &w)) ev |= CURL_WAIT_POLLOUT;
        if (FD_ISSET(fd, &e)) ev |= CURL_WAIT_POLLPRI;
        if (ev) { out[n].fd = fd; out[n].events = ev; out[n].revents = 0; n++; }
    }
    return n;
}

/* Where a connection is about to go: curl calls the open-socket callback with
   each address it tries (after DNS, for every redirect or retry), so a check
   there cannot be bypassed by DNS rebinding. */
typedef curl_socket_t (*aviary_opensocket_callback)(void *clientp, curlsocktype purpose, struct curl_sockaddr *address);
static inline CURLcode aviary_easy_setopt_opensocket(CURL *h, aviary_opensocket_callback cb) {
    return curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, cb);
}

/* The IP address curl is about to connect to: copies 4 (IPv4) or 16 (IPv6)
   bytes to out and returns that count; 0 for any other family. */
static inline int aviary_sockaddr_ip(const struct curl_sockaddr *a, unsigned char *out) {
    if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->addr;
        memcpy(out, &in->sin_addr, 4);
        return 4;
    }
    if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->addr;
        memcpy(out, &in6->sin6_addr, 16);
        return 16;
    }
    return 0;
}

/* What curl would do without an open-socket callback. */
static inline curl_socket_t aviary_open_socket(const struct curl_sockaddr *a) {
    return socket(a->family, a->socktype, a->protocol);
}

/* AVIARY_CURL_VERBOSE output, with credentials blanked: every outgoing header
   line that carries them (Authorization, Proxy-Authorization, Cookie) is
   printed as "<name>: [redacted]". Bodies are never printed. */
static inline int aviary_header_is_secret(const char *line, size_t len) {
    static const char *names[] = { "authorization:", "proxy-authorization:", "cookie:" };
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        size_t k = strlen(names[n]);
        if (len >= k && strncasecmp(line, names[n], k) == 0) return (int)k;
    }
    return 0;
}

static inline int aviary_debug_redacting(CURL *h, curl_infotype type, char *data, size_t size, void *user) {
    (void)h; (void)user;
    switch (type) {
    case CURLINFO_TEXT:
        fprintf(stderr, "* %.*s", (int)size, data);
        break;
    case CURLINFO_HEADER_IN:
    case CURLINFO_HEADER_OUT: {
        const char *mark = type == CURLINFO_HEADER_IN ? "<" : ">";
        size_t start = 0;
        while (start < size) {
            size_t end = start;
            while (end < size && data[end] != '\n') end++;
            size_t len = end - start;
            int name = aviary_header_is_secret(data + start, len);
            if (name > 0) {
                fprintf(stderr, "%s %.*s [redacted]\n", mark, name, data + start);
            } else if (len > 0) {
                size_t shown = len;
                if (shown > 0 && data[start + shown - 1] == '\r') shown--;
                if (shown > 0) fprintf(stderr, "%s %.*s\n", mark, (int)shown, data + start);
            }
            start = end + 1;
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

static inline CURLcode aviary_easy_setopt_redacting_debug(CURL *h) {
    CURLcode c = curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, aviary_debug_redacting);
    if (c != CURLE_OK) return c;
    return curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
}

/* Running a kubeconfig exec credential plugin (Kube's PluginProcess) with
   posix_spawn. glibc declares pipe2 and the closefrom file action only under
   _GNU_SOURCE, which Swift's importer does not set, so they are declared here. */
#include <spawn.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>
#include <poll.h>
#include <sys/wait.h>
#if defined(__GLIBC__)
extern int pipe2(int pipefd[2], int flags);
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
#define AVIARY_HAVE_SPAWN_CLOSEFROM 1
#endif
#endif

/* A pipe whose two ends are close-on-exec from the start, so a plugin started
   concurrently by another thread never inherits them (it would hold the write
   end open and this plugin's output would never end). */
static inline int aviary_pipe_cloexec(int fds[2]) {
#if defined(__GLIBC__)
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

/* In the child, closes every descriptor from `from` up: the plugin gets its
   stdin, stdout and stderr and nothing of ours (sockets, other pipes). */
static inline int aviary_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
#ifdef AVIARY_HAVE_SPAWN_CLOSEFROM
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
#else
    (void)actions; (void)from;
    return 0;
#endif
}

/* waitpid's status, decoded (the W* macros are not imported). */
static inline int aviary_wait_exited(int status) { return WIFEXITED(status); }
static inline int aviary_wait_exit_status(int status) { return WEXITSTATUS(status); }
static inline int aviary_wait_signalled(int status) { return WIFSIGNALED(status); }
static inline int aviary_wait_term_signal(int status) { return WTERMSIG(status); }

#endif

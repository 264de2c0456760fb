#ifndef AVIARY_CCURL_SHIM_H
#define AVIARY_CCURL_SHIM_H
#include <curl/curl.h>
#include <sys/select.h>

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

#endif

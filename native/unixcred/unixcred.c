/*
 * Tether's Unix-socket credentials (Linux only), for the node agent's attested origins:
 *
 *   peerCredentials(fd) -> { pid, uid, gid } | -errno
 *     SO_PEERCRED of a connected stream socket (the trace receiver's accepted connections): who
 *     connected, as the kernel saw it at connect(2), the pid translated into our pid namespace (0 when
 *     the peer is not visible from it).
 *
 *   listenDatagrams(path, bufferBytes, rcvbufBytes, onMessage(buf, pid, uid, gid), onError(errno))
 *     -> { close() } | -errno
 *     A SOCK_DGRAM socket bound at `path` with SO_PASSCRED on: the kernel attaches the sender's
 *     credentials (SCM_CREDENTIALS) to every datagram, whether the sender asked or not. Read with
 *     recvmsg(2) from a uv_poll on Node's own loop, at most MAX_PER_WAKEUP datagrams per wake-up so
 *     that a flood cannot hold the loop. A datagram longer than `bufferBytes` is cut there (MSG_TRUNC
 *     is reported as the buffer's length; the caller counts the cut).
 *
 * Why our own addon: Node has neither call; `unix-dgram` (the DogStatsD client's module) exposes no
 * ancillary data and no socket options; the npm modules that expose SO_PEERCRED cover stream sockets
 * only. Plain C on Node-API (ABI-stable across Node versions), built by node-gyp, which npm bundles.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#define MAX_PER_WAKEUP 256

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "unixcred: Node-API call failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value int_value(napi_env env, int n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

static napi_value creds_object(napi_env env, pid_t pid, uid_t uid, gid_t gid) {
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "pid", int_value(env, (int)pid));
  napi_set_named_property(env, o, "uid", int_value(env, (int)uid));
  napi_set_named_property(env, o, "gid", int_value(env, (int)gid));
  return o;
}

static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "peerCredentials(fd): fd must be a number");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return int_value(env, -errno);
  return creds_object(env, cred.pid, cred.uid, cred.gid);
}

typedef struct {
  uv_poll_t poll;
  int fd;
  size_t buffer_bytes;
  char *buffer;
  napi_env env;
  napi_ref on_message;
  napi_ref on_error;
  napi_ref self;
  int closed;
} listener_t;

static void call_js(listener_t *l, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = l->env;
  napi_value fn, global, result;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &global);
  napi_call_function(env, global, fn, argc, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    /* A throwing callback must not wedge the poll: report it as Node reports uncaught exceptions. */
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
    napi_fatal_exception(env, e);
  }
}

static void on_closed(uv_handle_t *h) {
  listener_t *l = (listener_t *)h->data;
  napi_env env = l->env;
  napi_delete_reference(env, l->on_message);
  napi_delete_reference(env, l->on_error);
  napi_delete_reference(env, l->self);
  free(l->buffer);
  free(l);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  listener_t *l = (listener_t *)handle->data;
  if (l->closed) return;
  napi_handle_scope scope;
  napi_open_handle_scope(l->env, &scope);
  if (status < 0) {
    napi_value argv[1] = {int_value(l->env, status)};
    call_js(l, l->on_error, 1, argv);
    napi_close_handle_scope(l->env, scope);
    return;
  }
  for (int i = 0; i < MAX_PER_WAKEUP && !l->closed; i++) {
    struct iovec iov = {.iov_base = l->buffer, .iov_len = l->buffer_bytes};
    union {
      struct cmsghdr align;
      char space[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof(control.space);
    ssize_t n = recvmsg(l->fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      napi_value argv[1] = {int_value(l->env, -errno)};
      call_js(l, l->on_error, 1, argv);
      break;
    }
    pid_t pid = 0;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof(cred));
        pid = cred.pid;
        uid = cred.uid;
        gid = cred.gid;
      }
    }
    size_t len = (size_t)n;
    if (len > l->buffer_bytes) len = l->buffer_bytes;
    napi_value buf;
    void *data;
    if (napi_create_buffer_copy(l->env, len, l->buffer, &data, &buf) != napi_ok) break;
    napi_value argv[4] = {buf, int_value(l->env, (int)pid), int_value(l->env, (int)uid), int_value(l->env, (int)gid)};
    call_js(l, l->on_message, 4, argv);
  }
  napi_close_handle_scope(l->env, scope);
}

static napi_value close_listener(napi_env env, napi_callback_info info) {
  void *data;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, NULL, &data));
  listener_t *l = (listener_t *)data;
  if (l->closed) return NULL;
  l->closed = 1;
  uv_poll_stop(&l->poll);
  close(l->fd);
  uv_close((uv_handle_t *)&l->poll, on_closed);
  return NULL;
}

static napi_value listen_datagrams(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  size_t path_len;
  int32_t buffer_bytes, rcvbuf;
  if (argc < 5 || napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &path_len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &buffer_bytes) != napi_ok || napi_get_value_int32(env, argv[2], &rcvbuf) != napi_ok || buffer_bytes <= 0) {
    napi_throw_type_error(env, NULL, "listenDatagrams(path, bufferBytes, rcvbufBytes, onMessage, onError)");
    return NULL;
  }
  if (path_len >= sizeof(path) - 1) return int_value(env, -ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return int_value(env, -errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) {
    int e = errno;
    close(fd);
    return int_value(env, -e);
  }
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, path_len);
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
    int e = errno;
    close(fd);
    return int_value(env, -e);
  }
  listener_t *l = calloc(1, sizeof(listener_t));
  char *buffer = malloc((size_t)buffer_bytes);
  if (l == NULL || buffer == NULL) {
    free(l);
    free(buffer);
    close(fd);
    return int_value(env, -ENOMEM);
  }
  l->fd = fd;
  l->buffer = buffer;
  l->buffer_bytes = (size_t)buffer_bytes;
  l->env = env;
  napi_value handle;
  CHECK(napi_create_object(env, &handle));
  napi_value close_fn;
  CHECK(napi_create_function(env, "close", NAPI_AUTO_LENGTH, close_listener, l, &close_fn));
  CHECK(napi_set_named_property(env, handle, "close", close_fn));
  CHECK(napi_create_reference(env, argv[3], 1, &l->on_message));
  CHECK(napi_create_reference(env, argv[4], 1, &l->on_error));
  CHECK(napi_create_reference(env, handle, 1, &l->self));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int r = uv_poll_init(loop, &l->poll, fd);
  if (r == 0) {
    l->poll.data = l;
    r = uv_poll_start(&l->poll, UV_READABLE, on_readable);
  }
  if (r != 0) {
    close(fd);
    napi_delete_reference(env, l->on_message);
    napi_delete_reference(env, l->on_error);
    napi_delete_reference(env, l->self);
    free(buffer);
    free(l);
    return int_value(env, r);
  }
  return handle;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "peerCredentials", NAPI_AUTO_LENGTH, peer_credentials, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "peerCredentials", fn));
  CHECK(napi_create_function(env, "listenDatagrams", NAPI_AUTO_LENGTH, listen_datagrams, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "listenDatagrams", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

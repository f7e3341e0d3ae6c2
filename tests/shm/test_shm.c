/* tests/shm/test_shm.c — the shared segment: create/attach/detach/unlink,
 * mode 0600, the header, regions by offset (two mappings at different
 * addresses see the same data), attach refusing a bad magic, layout version
 * or size with a message naming which, and stale-segment detection; a
 * segment with a widened mode or another owner refused and never replaced;
 * the checks a recorded pid must pass before it is adopted or signalled. */
#include "check.h"
#include "shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char name[64];

static void test_create_attach_regions(void)
{
	struct ark_err err;
	struct ark_shm a, b;
	CHECK_MSG(ark_shm_create(&a, name, 1 << 20, ARK_SHM_HUGEPAGES, &err) == 0, "%s", err.msg);
	struct stat st;
	CHECK(stat(a.path, &st) == 0);
	CHECK_MSG((st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	CHECK_EQ_U64(st.st_size, 1 << 20);
	CHECK(a.header->magic == ARK_SHM_MAGIC);
	CHECK_EQ_U64(a.header->layout_version, ARK_SHM_LAYOUT_VERSION);
	CHECK_EQ_U64(a.header->total_size, 1 << 20);
	CHECK_EQ_U64(a.header->creator_pid, getpid());
	CHECK(a.header->created_realtime_ns > 0);
	CHECK(!ark_shm_is_stale(&a));

	uint64_t off1, off2, found, size;
	CHECK(ark_shm_alloc(&a, "first", 1000, &off1, &err) == 0);
	CHECK(ark_shm_alloc(&a, "second", 4096, &off2, &err) == 0);
	CHECK(off1 % ARK_SHM_ALIGN == 0 && off2 % ARK_SHM_ALIGN == 0);
	CHECK(off2 >= off1 + 1000);
	CHECK(ark_shm_alloc(&a, "first", 8, &found, &err) == -EEXIST);
	CHECK(ark_shm_alloc(&a, "huge", 2 << 20, &found, &err) == -ENOSPC);
	CHECK_CONTAINS(err.msg, "huge");
	memcpy(ark_shm_at(&a, off2), "offsets, not pointers", 22);

	CHECK_MSG(ark_shm_attach(&b, name, 1 << 20, &err) == 0, "%s", err.msg);
	CHECK(b.base != a.base);   /* a second mapping, at another address */
	CHECK(ark_shm_find(&b, "second", &found, &size) == 0);
	CHECK_EQ_U64(found, off2);
	CHECK_EQ_U64(size, 4096);
	CHECK(strcmp(ark_shm_at(&b, found), "offsets, not pointers") == 0);
	CHECK(ark_shm_find(&b, "missing", &found, &size) == -ENOENT);
	ark_shm_detach(&b);
	CHECK(b.base == NULL);

	struct ark_shm c;
	CHECK(ark_shm_create(&c, name, 1 << 20, 0, &err) == -EEXIST);
	CHECK(ark_shm_create(&c, name, 1 << 20, ARK_SHM_REPLACE_STALE, &err) == -EEXIST);
	CHECK_CONTAINS(err.msg, "alive");
	ark_shm_detach(&a);
	CHECK(ark_shm_unlink(name, &err) == 0);
	CHECK(ark_shm_attach(&b, name, 0, &err) == -ENOENT);
	CHECK_CONTAINS(err.msg, name);
}

/* Damage a field of the header through a raw mapping. */
static void poke(size_t offset, const void *bytes, size_t len)
{
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/%s", name);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, bytes, len, (off_t)offset) == (ssize_t)len);
	close(fd);
}

static void test_attach_refuses_bad_header(void)
{
	struct ark_err err;
	struct ark_shm a, b;
	CHECK(ark_shm_create(&a, name, 65536, 0, &err) == 0);
	ark_shm_detach(&a);

	CHECK(ark_shm_attach(&b, name, 131072, &err) == -EPROTO);
	CHECK_CONTAINS(err.msg, "65536 bytes, expected 131072");

	uint32_t version = 99;
	poke(offsetof(struct ark_shm_header, layout_version), &version, sizeof version);
	CHECK(ark_shm_attach(&b, name, 0, &err) == -EPROTO);
	CHECK_CONTAINS(err.msg, "layout version 99, expected 1");
	version = ARK_SHM_LAYOUT_VERSION;
	poke(offsetof(struct ark_shm_header, layout_version), &version, sizeof version);

	uint64_t size = 1 << 30;
	poke(offsetof(struct ark_shm_header, total_size), &size, sizeof size);
	CHECK(ark_shm_attach(&b, name, 0, &err) == -EPROTO);
	CHECK_CONTAINS(err.msg, "truncated or damaged");
	size = 65536;
	poke(offsetof(struct ark_shm_header, total_size), &size, sizeof size);

	uint64_t magic = 0x4b4e554a4b4e554aull;
	poke(0, &magic, sizeof magic);
	CHECK(ark_shm_attach(&b, name, 0, &err) == -EPROTO);
	CHECK_CONTAINS(err.msg, "not an ARK segment");
	CHECK_CONTAINS(err.msg, "expected 0x");
	magic = ARK_SHM_MAGIC;
	poke(0, &magic, sizeof magic);
	CHECK_MSG(ark_shm_attach(&b, name, 65536, &err) == 0, "%s", err.msg);
	ark_shm_detach(&b);

	/* Too short to hold a header. */
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/%s", name);
	CHECK(truncate(path, 100) == 0);
	CHECK(ark_shm_attach(&b, name, 0, &err) == -EPROTO);
	CHECK_CONTAINS(err.msg, "less than");
	CHECK(ark_shm_unlink(name, &err) == 0);
}

static void test_stale(void)
{
	struct ark_err err;
	pid_t child = fork();
	if (child == 0) {
		struct ark_shm s;
		_exit(ark_shm_create(&s, name, 65536, 0, NULL) == 0 ? 0 : 1);
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct ark_shm s;
	CHECK_MSG(ark_shm_attach(&s, name, 0, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(s.header->creator_pid, child);
	CHECK(ark_shm_is_stale(&s));   /* its creator is gone */
	ark_shm_detach(&s);
	/* A stale segment is replaced on request; a live one never is. */
	CHECK(ark_shm_create(&s, name, 65536, 0, &err) == -EEXIST);
	CHECK_MSG(ark_shm_create(&s, name, 65536, ARK_SHM_REPLACE_STALE, &err) == 0, "%s", err.msg);
	CHECK(!ark_shm_is_stale(&s));
	/* Pid reuse: the same pid with another start time is not alive. */
	CHECK(ark_shm_process_alive(getpid(), ark_shm_process_start_ticks(getpid())));
	CHECK(!ark_shm_process_alive(getpid(), ark_shm_process_start_ticks(getpid()) + 1));
	ark_shm_detach(&s);
	CHECK(ark_shm_unlink(name, &err) == 0);
}

/* A segment of ours whose mode was widened, or one owned by another uid:
 * attach refuses naming owner and mode, REPLACE_STALE never replaces it. */
static void test_ownership(void)
{
	struct ark_err err;
	struct ark_shm s, t;
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/%s", name);
	CHECK_MSG(ark_shm_create(&s, name, 65536, 0, &err) == 0, "%s", err.msg);
	CHECK(chmod(path, 0666) == 0);
	CHECK(ark_shm_attach(&t, name, 0, &err) == -EPERM);
	CHECK_CONTAINS(err.msg, "mode 0666");
	ark_shm_detach(&s);
	CHECK(chmod(path, 0600) == 0);
	if (geteuid() == 0) {
		/* (as root, CI: give it to another uid; its creator is gone) */
		CHECK(chown(path, 65534, 65534) == 0);
		CHECK(ark_shm_attach(&t, name, 0, &err) == -EPERM);
		CHECK_CONTAINS(err.msg, "belongs to uid 65534");
		CHECK_CONTAINS(err.msg, "never uses, adopts or removes");
		struct stat before, after;
		CHECK(stat(path, &before) == 0);
		CHECK(ark_shm_create(&t, name, 65536, ARK_SHM_REPLACE_STALE, &err) == -EPERM);
		CHECK(ark_shm_unlink(name, &err) == -EPERM);
		CHECK(stat(path, &after) == 0 && after.st_ino == before.st_ino && after.st_uid == 65534);
		CHECK(unlink(path) == 0);
	} else {
		printf("  (not root: the other-owner case is tests/security's)\n");
		CHECK(ark_shm_unlink(name, &err) == 0);
	}
	/* a hard link is a second name anyone may have made: refused */
	CHECK_MSG(ark_shm_create(&s, name, 65536, 0, &err) == 0, "%s", err.msg);
	char linked[160];
	snprintf(linked, sizeof linked, "%s-link", path);
	CHECK(link(path, linked) == 0);
	CHECK(ark_shm_attach(&t, name, 0, &err) == -EPERM);
	CHECK_CONTAINS(err.msg, "link");
	unlink(linked);
	ark_shm_detach(&s);
	CHECK(ark_shm_unlink(name, &err) == 0);
}

/* What a pid from a segment must be before it is adopted or signalled. */
static void test_process_verify(void)
{
	char exe[512], why[256];
	CHECK(ark_self_exe(exe, sizeof exe, NULL) == 0);
	const char *mine[] = {exe, NULL}, *other[] = {"/usr/bin/true", NULL};
	int32_t self = (int32_t)getpid();
	uint64_t ticks = ark_shm_process_start_ticks(self);
	struct ark_shm_process_expect ok = {.instance = getenv("ARK_INSTANCE") ? getenv("ARK_INSTANCE") : "main", .exe = mine};
	CHECK_MSG(ark_shm_process_verify(self, ticks, &ok, why, sizeof why) == 0, "%s", why);
	/* never a start time of 0, nor another one */
	CHECK(!ark_shm_process_alive(self, 0));
	CHECK(ark_shm_process_verify(self, 0, &ok, why, sizeof why) == -EPERM);
	CHECK(ark_shm_process_verify(self, ticks + 1, &ok, why, sizeof why) == -EPERM);
	CHECK_CONTAINS(why, "pid reused");
	/* another executable */
	struct ark_shm_process_expect wrong_exe = {.instance = ok.instance, .exe = other};
	CHECK(ark_shm_process_verify(self, ticks, &wrong_exe, why, sizeof why) == -EPERM);
	CHECK_CONTAINS(why, "not this ark");
	/* another instance */
	struct ark_shm_process_expect wrong_instance = {.instance = "someone-else", .exe = mine};
	CHECK(ark_shm_process_verify(self, ticks, &wrong_instance, why, sizeof why) == -EPERM);
	CHECK_CONTAINS(why, "not a process of instance someone-else");
	/* gone */
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	uint64_t child_ticks = ark_shm_process_start_ticks(child);
	waitpid(child, NULL, 0);
	CHECK(ark_shm_process_verify(child, child_ticks ? child_ticks : 1, &ok, why, sizeof why) == -ESRCH);
	/* another uid (as root: a child that drops to nobody) */
	if (geteuid() == 0) {
		int gate[2];
		CHECK(pipe(gate) == 0);
		child = fork();
		if (child == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(1);
			char c;
			close(gate[1]);
			while (read(gate[0], &c, 1) > 0)
				;
			_exit(0);
		}
		close(gate[0]);
		uint64_t deadline = ark_now_ns() + 5000000000ull;
		int rc;
		while ((rc = ark_shm_process_verify(child, ark_shm_process_start_ticks(child), &ok, why, sizeof why)) != -EPERM ||
		       !strstr(why, "runs as uid"))
			CHECK_MSG(ark_now_ns() < deadline, "a process of another uid was not refused: %d %s", rc, why);
		int fd = ark_shm_process_open(child, ark_shm_process_start_ticks(child), &ok, why, sizeof why);
		CHECK(fd == -EPERM);
		close(gate[1]);
		waitpid(child, NULL, 0);
	}
	int fd = ark_shm_process_open(self, ticks, &ok, why, sizeof why);
	CHECK_MSG(fd >= 0, "%s", why);
	close(fd);
}

static void test_names(void)
{
	struct ark_err err;
	char out[64];
	CHECK(ark_shm_name_for_instance("prod-1", out, sizeof out, &err) == 0);
	CHECK(strcmp(out, "ark-prod-1") == 0);
	CHECK(ark_shm_name_for_instance("../etc", out, sizeof out, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "../etc");
	CHECK(ark_shm_name_for_instance("", out, sizeof out, &err) == -EINVAL);
	CHECK(ark_shm_name_for_instance("a/b", out, sizeof out, &err) == -EINVAL);
	struct ark_shm s;
	CHECK(ark_shm_create(&s, "bad/name", 65536, 0, &err) == -EINVAL);
	CHECK(ark_shm_create(&s, "ark-tiny", 10, 0, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "too small");
}

int main(void)
{
	snprintf(name, sizeof name, "ark-test-shm-%d", (int)getpid());
	test_create_attach_regions();
	test_attach_refuses_bad_header();
	test_stale();
	test_ownership();
	test_process_verify();
	test_names();
	printf("shm tests passed\n");
	return 0;
}

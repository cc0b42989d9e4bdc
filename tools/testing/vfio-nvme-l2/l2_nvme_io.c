// SPDX-License-Identifier: GPL-2.0
/*
 * The guest of the nested QEMU in qemu_migration_test: a multiboot kernel
 * that drives the NVMe function QEMU assigns to it (a VF bound to
 * nvme-vfio-pci, through vfio-pci) with polled queues and keeps L2_QD
 * commands in flight on namespace L2_NSID (or "nsid=N" on the multiboot
 * command line) for as long as it runs.  Each
 * slot writes a block with a pattern naming the block and a sequence
 * number, reads it back and checks it, then moves to its next block: the
 * next of its L2_BLOCKS in the namespace's second half, or with "random" on
 * the command line a random one of its L2_RANDOM_SPAN from the namespace's
 * start (as a VM on local storage writes its working set, for the copy
 * beside its migration; over the whole 64 MiB namespace the debug kernel's
 * migration with the copy took more than 4 minutes).
 *
 * It reports on COM1:
 *   "l2: ready ..."                       once, when the queues are up
 *   "l2: io N verified V"                 every L2_REPORT completions
 *   "l2: FAIL <what> <a> <b>"             then halts, on a failed command,
 *       a completion for a command that is not outstanding (duplicate or
 *       unknown), a command still outstanding L2_LOST_AFTER completions
 *       after it was submitted (lost), or data that does not read back.
 *
 * QEMU migrates this guest while it runs: the commands in flight at the
 * switch must complete exactly once, on the source or on the destination,
 * and the queues must carry on from where they were.
 */
#include <stdbool.h>
#include <stdint.h>
#include <nvme/types.h>

#define L2_NSID		2
#define L2_QD		8
#define L2_QSIZE	64
#define L2_BLOCKS	64	/* blocks per slot, each slot has its own range */
#define L2_RANDOM_SPAN	1024	/* at most, with "random": 4 MiB of 512-byte blocks in all */
#define L2_REPORT	256
#define L2_LOST_AFTER	20000
#define L2_SPIN		50000000u
#define PAGE_SIZE	4096

/* the 64-byte submission and 16-byte completion queue entries (libnvme has none) */
struct l2_sqe {
	uint8_t opcode;
	uint8_t flags;
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2, cdw3;
	uint64_t mptr, prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

struct l2_cqe {
	uint32_t dw0, dw1;
	uint16_t sq_head, sq_id, cid;
	uint16_t status;	/* bit 0: phase tag */
};

_Static_assert(sizeof(struct l2_sqe) == 64, "SQ entry size");
_Static_assert(sizeof(struct l2_cqe) == 16, "CQ entry size");

struct l2_queue {
	volatile struct l2_sqe *sq;
	volatile struct l2_cqe *cq;
	uint16_t qid, sq_tail, cq_head;
	uint8_t phase;
};

struct l2_slot {
	bool busy, reading;
	uint16_t cid;
	uint32_t lba, seq, next;
	uint32_t submitted_at;
};

static uint8_t asq_mem[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t acq_mem[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t iosq_mem[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t iocq_mem[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t id_buf[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint32_t data[L2_QD][PAGE_SIZE / 4] __attribute__((aligned(PAGE_SIZE)));

static volatile uint8_t *bar;
static uint32_t db_stride;
static struct l2_queue admin_q, io_q;
static struct l2_slot slots[L2_QD];
static uint32_t lba_size, base_lba, done, verified, next_seq, cid_gen;
static uint32_t nsid = L2_NSID;
static bool random_blocks;
static uint32_t span = L2_BLOCKS;	/* blocks per slot */
static uint32_t rnd_state = 2463534242u;

/* xorshift32: the next random block */
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* the compiler may emit calls to these */
void *memset(void *s, int c, unsigned int n)
{
	uint8_t *p = s;

	while (n--)
		*p++ = c;
	return s;
}

void *memcpy(void *d, const void *s, unsigned int n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* COM1 */
static void putc_serial(char c)
{
	while (!(inb(0x3fd) & 0x20))
		;
	outb(0x3f8, c);
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void putu(uint32_t v)
{
	char buf[11];
	int i = 0;

	do {
		buf[i++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (i)
		putc_serial(buf[--i]);
}

static void putx(uint32_t v)
{
	int i;

	puts_serial("0x");
	for (i = 28; i >= 0; i -= 4)
		putc_serial("0123456789abcdef"[(v >> i) & 0xf]);
}

static void __attribute__((noreturn)) fail(const char *what, uint32_t a, uint32_t b)
{
	puts_serial("l2: FAIL ");
	puts_serial(what);
	putc_serial(' ');
	putx(a);
	putc_serial(' ');
	putx(b);
	putc_serial('\n');
	for (;;)
		asm volatile("cli; hlt");
}

static uint32_t pci_read(uint32_t dev, uint32_t off)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	return inl(0xcfc);
}

static void pci_write(uint32_t dev, uint32_t off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	outl(0xcfc, v);
}

static uint32_t reg_read(uint32_t off)
{
	return *(volatile uint32_t *)(bar + off);
}

static void reg_write(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(bar + off) = v;
}

/* the doorbells: SQ y tail at 2y, CQ y head at 2y + 1, in units of 4 << CAP.DSTRD */
static void ring(uint16_t qid, bool cq, uint16_t v)
{
	reg_write(0x1000 + (2 * qid + cq) * db_stride, v);
}

static void wait_ready(uint32_t rdy)
{
	uint32_t n, csts;

	for (n = 0; n < L2_SPIN; n++) {
		csts = reg_read(NVME_REG_CSTS);
		if (NVME_CSTS_CFS(csts))
			fail("controller fatal status", csts, rdy);
		if (NVME_CSTS_RDY(csts) == rdy)
			return;
	}
	fail("CSTS.RDY timeout", csts, rdy);
}

static void submit(struct l2_queue *q, const struct l2_sqe *cmd)
{
	q->sq[q->sq_tail] = *cmd;
	q->sq_tail = (q->sq_tail + 1) % L2_QSIZE;
	ring(q->qid, false, q->sq_tail);
}

static bool reap(struct l2_queue *q, struct l2_cqe *cqe)
{
	volatile struct l2_cqe *e = &q->cq[q->cq_head];

	if ((e->status & 1) != q->phase)
		return false;
	*cqe = *e;
	if (++q->cq_head == L2_QSIZE) {
		q->cq_head = 0;
		q->phase ^= 1;
	}
	ring(q->qid, true, q->cq_head);
	return true;
}

static void admin(struct l2_sqe *cmd)
{
	struct l2_cqe cqe;
	uint32_t n;

	cmd->cid = ++cid_gen;
	submit(&admin_q, cmd);
	for (n = 0; n < L2_SPIN; n++) {
		if (!reap(&admin_q, &cqe))
			continue;
		if (cqe.cid != cmd->cid)
			fail("admin completion for another command", cqe.cid, cmd->cid);
		if (cqe.status >> 1)
			fail("admin command failed", cmd->opcode, cqe.status >> 1);
		return;
	}
	fail("admin command timeout", cmd->opcode, 0);
}

static uint32_t find_nvme(void)
{
	uint32_t dev;

	for (dev = 0; dev < 32; dev++)
		if (pci_read(dev, 0) != 0xffffffffu && pci_read(dev, 8) >> 8 == 0x010802)
			return dev;
	fail("no NVMe function", 0, 0);
}

static void controller_init(void)
{
	uint32_t dev = find_nvme(), bar_lo, cap_hi;
	struct l2_sqe cmd;
	struct nvme_id_ns *id = (struct nvme_id_ns *)id_buf;

	bar_lo = pci_read(dev, 0x10);
	if (pci_read(dev, 0x14))
		fail("BAR0 above 4 GiB", pci_read(dev, 0x14), bar_lo);
	bar = (volatile uint8_t *)(bar_lo & ~0xfu);
	pci_write(dev, 0x04, pci_read(dev, 0x04) | 0x6);	/* memory, bus master */

	cap_hi = reg_read(NVME_REG_CAP + 4);
	db_stride = 4u << (cap_hi & NVME_CAP_DSTRD_MASK);

	/* the firmware may have enabled it: start from a reset controller */
	reg_write(NVME_REG_CC, 0);
	wait_ready(0);
	admin_q = (struct l2_queue){ (void *)asq_mem, (void *)acq_mem, 0, 0, 0, 1 };
	memset(acq_mem, 0, sizeof(acq_mem));
	reg_write(NVME_REG_AQA, (L2_QSIZE - 1) << 16 | (L2_QSIZE - 1));
	reg_write(NVME_REG_ASQ, (uint32_t)asq_mem);
	reg_write(NVME_REG_ASQ + 4, 0);
	reg_write(NVME_REG_ACQ, (uint32_t)acq_mem);
	reg_write(NVME_REG_ACQ + 4, 0);
	reg_write(NVME_REG_CC, 1 << NVME_CC_EN_SHIFT | 6 << NVME_CC_IOSQES_SHIFT |
		  4 << NVME_CC_IOCQES_SHIFT);
	wait_ready(1);

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_admin_identify;
	cmd.nsid = nsid;
	cmd.prp1 = (uint32_t)id_buf;
	cmd.cdw10 = NVME_IDENTIFY_CNS_NS;
	admin(&cmd);
	lba_size = 1u << id->lbaf[id->flbas & 0xf].ds;
	if (lba_size > PAGE_SIZE || (uint32_t)id->nsze < 2 * L2_QD * L2_BLOCKS)
		fail("namespace too small or blocks too large", (uint32_t)id->nsze, lba_size);
	base_lba = (uint32_t)id->nsze / 2;
	if (random_blocks) {
		base_lba = 0;
		span = (uint32_t)id->nsze / L2_QD;
		if (span > L2_RANDOM_SPAN)
			span = L2_RANDOM_SPAN;
	}

	io_q = (struct l2_queue){ (void *)iosq_mem, (void *)iocq_mem, 1, 0, 0, 1 };
	memset(iocq_mem, 0, sizeof(iocq_mem));
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_admin_create_cq;
	cmd.prp1 = (uint32_t)iocq_mem;
	cmd.cdw10 = (L2_QSIZE - 1) << 16 | 1;
	cmd.cdw11 = 1;				/* physically contiguous, no interrupts */
	admin(&cmd);
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_admin_create_sq;
	cmd.prp1 = (uint32_t)iosq_mem;
	cmd.cdw10 = (L2_QSIZE - 1) << 16 | 1;
	cmd.cdw11 = 1 << 16 | 1;		/* CQ 1, physically contiguous */
	admin(&cmd);

	puts_serial("l2: ready, namespace ");
	putu(nsid);
	puts_serial(" block size ");
	putu(lba_size);
	puts_serial(", ");
	putu(L2_QD);
	puts_serial(random_blocks ? " commands in flight, random blocks\n" :
		    " commands in flight\n");
}

static uint32_t pattern(const struct l2_slot *s, uint32_t i)
{
	return i == 0 ? s->lba : i == 1 ? s->seq : (s->seq * 0x9e3779b9u) ^ (i * 0x85ebca6bu);
}

static void slot_io(struct l2_slot *s, uint8_t opcode)
{
	struct l2_sqe cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = opcode;
	/* a fresh cid each time: a stale or repeated completion cannot match */
	s->cid = (uint16_t)((++cid_gen % 0x800) << 4 | (s - slots));
	cmd.cid = s->cid;
	cmd.nsid = nsid;
	cmd.prp1 = (uint32_t)data[s - slots];
	cmd.cdw10 = s->lba;			/* one block (NLB is 0's based) */
	s->busy = true;
	s->reading = opcode == nvme_cmd_read;
	s->submitted_at = done;
	submit(&io_q, &cmd);
}

static void slot_start(struct l2_slot *s)
{
	uint32_t *buf = data[s - slots], i;

	s->seq = next_seq++;
	s->lba = base_lba + (s - slots) * span + (random_blocks ? rnd() : s->next++) % span;
	for (i = 0; i < lba_size / 4; i++)
		buf[i] = pattern(s, i);
	slot_io(s, nvme_cmd_write);
}

static void slot_done(struct l2_slot *s)
{
	uint32_t *buf = data[s - slots], i;

	if (!s->reading) {
		memset(buf, 0, lba_size);
		slot_io(s, nvme_cmd_read);
		return;
	}
	for (i = 0; i < lba_size / 4; i++)
		if (buf[i] != pattern(s, i))
			fail("data does not read back: block, word", s->lba, i);
	verified++;
	slot_start(s);
}

static void io_loop(void)
{
	struct l2_cqe cqe;
	struct l2_slot *s;
	uint32_t i;

	for (i = 0; i < L2_QD; i++)
		slot_start(&slots[i]);
	for (;;) {
		if (!reap(&io_q, &cqe))
			continue;
		s = &slots[cqe.cid & 0xf];
		if ((cqe.cid & 0xf) >= L2_QD || !s->busy || s->cid != cqe.cid)
			fail("completion for no outstanding command: cid, sq head",
			     cqe.cid, cqe.sq_head);
		if (cqe.status >> 1)
			fail("I/O failed: block, status", s->lba, cqe.status >> 1);
		s->busy = false;
		done++;
		if (done % L2_REPORT == 0) {
			puts_serial("l2: io ");
			putu(done);
			puts_serial(" verified ");
			putu(verified);
			putc_serial('\n');
		}
		slot_done(s);
		for (i = 0; i < L2_QD; i++)
			if (slots[i].busy && done - slots[i].submitted_at > L2_LOST_AFTER)
				fail("command lost: cid, block", slots[i].cid, slots[i].lba);
	}
}

/* the part of the multiboot information this guest reads */
struct mb_info {
	uint32_t flags;		/* bit 2: cmdline is valid */
	uint32_t mem_lower, mem_upper, boot_device;
	uint32_t cmdline;
};

/* does word w start at p (and end there or at a space or '=')? */
static bool word_at(const char *p, const char *w)
{
	while (*w && *p == *w) {
		p++;
		w++;
	}
	return !*w && (!*p || *p == ' ' || *p == '=');
}

/* "nsid=N" anywhere on the command line picks the namespace; "random" the blocks */
static void parse_cmdline(const struct mb_info *mbi)
{
	const char *p;

	if (!mbi || !(mbi->flags & 4) || !mbi->cmdline)
		return;
	for (p = (const char *)mbi->cmdline; *p; p++) {
		uint32_t n = 0;
		const char *q;

		if (p != (const char *)mbi->cmdline && p[-1] != ' ')
			continue;
		if (word_at(p, "random"))
			random_blocks = true;
		if (!word_at(p, "nsid") || p[4] != '=')
			continue;
		for (q = p + 5; *q >= '0' && *q <= '9'; q++)
			n = n * 10 + (*q - '0');
		if (n)
			nsid = n;
	}
}

void l2_main(const struct mb_info *mbi);
void l2_main(const struct mb_info *mbi)
{
	parse_cmdline(mbi);
	controller_init();
	io_loop();
}

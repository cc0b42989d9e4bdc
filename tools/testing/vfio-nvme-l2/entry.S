/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multiboot entry of the nested guest: QEMU's multiboot loader (-kernel)
 * enters here in 32-bit protected mode with paging off and flat segments,
 * with the multiboot information's address in %ebx.
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	pushl %ebx		/* the multiboot information (command line) */
	call l2_main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.skip 16384
stack_top:

:
	push   %r15
	mov    %rdx,%r11
	mov    %rcx,%r10
	push   %r14
	push   %r13
	push   %r12
	push   %rbp
	mov    %rsi,%rbp
	push   %rbx
	mov    %r9,-0x18(%rsp)
	cmp    $0x10,%r8d
	ja     
	mov    0x20(%rdi),%rbx
	mov    0x28(%rdi),%r12d
	mov    %r8d,%ecx
	cmp    $0x8,%r8d
	jbe    
	mov    -0x8(%r10,%rcx,1),%rsi
	mov    $0x2,%r14d
	movabs $0xaf56bc3b0996523a,%r9
	movabs $0x6782737bea4239b9,%rax
	sub    %rbx,%r9
	add    %rbx,%rax
	xor    (%r10),%rax
	xor    %rsi,%r9
	mov    %rax,%rbx
	mul    %r9
	add    %rcx,%r9
	bswap  %rbx
	xor    %rax,%rdx
	lea    (%rdx,%r9,1),%rax
	add    %rbx,%rax
	mov    %rax,%rdx
	shr    $0x25,%rdx
	xor    %rax,%rdx
	movabs $0x165667919e3779f9,%rax
	imul   %rax,%rdx
	mov    %rdx,%rax
	shr    $0x20,%rax
	xor    %rdx,%rax
	and    %eax,%r12d
	shr    $0x32,%rax
	mov    %r8d,%ecx
	neg    %ecx
	and    $0x7,%ecx
	shl    $0x3,%ecx
	shr    %cl,%rsi
	mov    %rsi,-0x20(%rsp)
	mov    0x0(%rbp),%rcx
	mov    0x10(%rcx),%rdx
	cmp    $0xffffffffffffffff,%rdx
	je     
	cmp    %r11,%rdx
	jb     
	mov    0x2c(%rdi),%edx
	mov    %r12d,%esi
	and    0x28(%rdi),%esi
	imul   %rdx,%rsi
	add    0x8(%rdi),%rsi
	mov    0x10(%rsi),%r13
	lea    0x10(%rsi),%r15
	mov    (%rsi),%rbx
	test   $0x1,%r13b
	je     
	mov    %rbx,%rcx
	lea    0x1(,%rax,4),%rdx
	and    $0xfffd,%ecx
	cmp    %rdx,%rcx
	je     
	mov    %r13d,%ecx
	lea    0x1(,%rax,4),%rax
	and    $0xfffffffe,%ecx
	je     
	mov    %r13,-0x10(%rsp)
	jmp    
	cs nopw 0x0(%rax,%rax,1)
	lea    -0x1(%rcx),%edx
	and    %edx,%ecx
	je     
	xor    %edx,%edx
	mov    0x2c(%rdi),%esi
	tzcnt  %ecx,%edx
	add    %r12d,%edx
	and    0x28(%rdi),%edx
	mov    %edx,%r9d
	imul   %r9,%rsi
	add    0x8(%rdi),%rsi
	mov    (%rsi),%rbx
	mov    %rbx,%r9
	and    $0xfffd,%r9d
	cmp    %rax,%r9
	jne    
	mov    0x1c(%rsi),%r9d
	cmp    %r9d,%r8d
	jne    
	lea    0x20(%rsi),%r9
	cmp    $0x2,%r14d
	jne    
	mov    0x20(%rsi),%r9
	cmp    %r9,(%r10)
	jne    
	lea    0x28(%rsi),%r9
	mov    (%r9),%r9
	mov    -0x20(%rsp),%r13
	cmp    %r13,%r9
	jne    
	mov    -0x10(%rsp),%r13
	mov    0x8(%rsi),%rcx
	mov    %ebx,%eax
	and    $0x3,%eax
	cmp    $0x3,%eax
	je     
	mov    (%rdi),%rax
	mov    0x80(%rax),%rdx
	mov    (%r15),%rax
	cmp    %rax,%r13
	jne    
	mov    (%rsi),%rax
	cmp    %rbx,%rax
	jne    
	cmp    %rcx,%r11
	jb     
	mov    %r11,%rax
	sub    %rcx,%rax
	cmp    %rdx,%rax
	jae    
	mov    0x0(%rbp),%rax
	lock addq $0x1,0x20(%rax)
	xor    %eax,%eax
	pop    %rbx
	pop    %rbp
	pop    %r12
	pop    %r13
	pop    %r14
	pop    %r15
	ret
	nopl   0x0(%rax)
	mov    (%r15),%rax
	mov    -0x18(%rsp),%r9
	mov    %rbp,%rsi
	pop    %rbx
	mov    %r10,%rcx
	pop    %rbp
	mov    %r11,%rdx
	pop    %r12
	pop    %r13
	pop    %r14
	pop    %r15
	jmp    
	mov    %r11,0x10(%rcx)
	jmp    
	nopl   0x0(%rax)
	mov    %rcx,%rdx
	mov    %rbx,%rax
	mov    %r11,%rcx
	lock cmpxchg16b (%rsi)
	jne    
	mov    0x0(%rbp),%rax
	lock addq $0x1,0x18(%rax)
	mov    $0x1,%eax
	pop    %rbx
	pop    %rbp
	pop    %r12
	pop    %r13
	pop    %r14
	pop    %r15
	ret
	nopw   0x0(%rax,%rax,1)
	mov    0x1c(%rsi),%edx
	cmp    %edx,%r8d
	jne    
	lea    0x20(%rsi),%rdx
	cmp    $0x2,%r14d
	jne    
	mov    0x20(%rsi),%rdx
	cmp    %rdx,(%r10)
	jne    
	lea    0x28(%rsi),%rdx
	mov    (%rdx),%rdx
	mov    -0x20(%rsp),%rcx
	cmp    %rcx,%rdx
	jne    
	mov    0x8(%rsi),%rcx
	mov    %r12d,%edx
	jmp    
	pop    %rbx
	pop    %rbp
	pop    %r12
	pop    %r13
	pop    %r14
	pop    %r15
	jmp    
	mov    0x2c(%rdi),%r9d
	mov    %edx,%esi
	and    0x28(%rdi),%esi
	mov    0x8(%rdi),%r13
	imul   %r9,%rsi
	add    %r13,%rsi
	mov    0x18(%rsi),%eax
	mov    0x28(%rdi),%ecx
	and    %ecx,%eax
	sub    %eax,%edx
	imul   %rax,%r9
	and    %edx,%ecx
	mov    %rbx,%rdx
	shr    $0x10,%rdx
	mov    %edx,%r12d
	lea    0x10(%r13,%r9,1),%r13
	movzwl %dx,%edx
	mov    0x0(%r13),%rax
	mov    (%rsi),%r9
	cmp    %rbx,%r9
	jne    
	test   $0xffe0,%r12d
	jne    
	cmp    $0x1f,%ecx
	ja     
	mov    $0x1,%r9d
	shl    %cl,%r9d
	test   %eax,%r9d
	je     
	mov    %rax,%r14
	not    %r9d
	and    %eax,%r9d
	shr    $0x20,%r14
	bts    %edx,%r9d
	add    $0x1,%r14
	shl    $0x20,%r14
	mov    %r9d,%r9d
	or     %r14,%r9
	lock cmpxchg %r9,0x0(%r13)
	jne    
	mov    %rbx,%rax
	shr    $0x20,%rax
	lea    0x1(%rax),%edx
	mov    %rbx,%rax
	and    $0xfffffffc,%eax
	shl    $0x20,%rdx
	or     %rax,%rdx
	mov    %rbx,%rax
	lock cmpxchg %rdx,(%rsi)
	jmp    
	cmp    $0x3,%rcx
	jbe    
	mov    %ebx,%edx
	mov    (%r10),%r9d
	mov    -0x4(%r10,%rcx,1),%esi
	movabs $0xc73ab174c5ecd5a2,%rax
	bswap  %edx
	shl    $0x20,%rdx
	xor    %rbx,%rdx
	sub    %rdx,%rax
	mov    %r9,%rdx
	shl    $0x20,%rdx
	add    %rsi,%rdx
	xor    %rdx,%rax
	mov    %rax,%rdx
	mov    %rax,%rbx
	rol    $0x18,%rbx
	ror    $0xf,%rdx
	xor    %rbx,%rdx
	movabs $0x9fb21c651e98df25,%rbx
	xor    %rax,%rdx
	imul   %rbx,%rdx
	mov    %rdx,%rax
	shr    $0x23,%rax
	add    %rcx,%rax
	xor    %rax,%rdx
	imul   %rbx,%rdx
	mov    %rdx,%rax
	shr    $0x1c,%rax
	xor    %rdx,%rax
	and    %eax,%r12d
	shr    $0x32,%rax
	cmp    $0x8,%r8d
	je     
	lea    -0x20(,%r8,8),%ecx
	mov    $0x1,%r14d
	shl    %cl,%rsi
	or     %r9,%rsi
	mov    %rsi,-0x20(%rsp)
	jmp    
	mov    (%r10),%rsi
	mov    $0x1,%r14d
	jmp    
	movzbl (%r10),%edx
	test   %rcx,%rcx
	jne    
	movabs $0x8726f9105dc21ddc,%rax
	xor    %r14d,%r14d
	movabs $0xc2b2ae3d27d4eb4f,%rcx
	xor    %rax,%rbx
	mov    %rbx,%rax
	shr    $0x21,%rax
	xor    %rbx,%rax
	imul   %rcx,%rax
	mov    %rax,%rcx
	shr    $0x1d,%rcx
	xor    %rcx,%rax
	movabs $0x165667b19e3779f9,%rcx
	imul   %rcx,%rax
	mov    %rax,%rcx
	shr    $0x20,%rcx
	xor    %rcx,%rax
	and    %eax,%r12d
	shr    $0x32,%rax
	mov    %r8d,%ecx
	lea    -0x1(%r8),%r9d
	shr    %ecx
	mov    %ecx,%esi
	shl    $0x3,%ecx
	movzbl (%r10,%rsi,1),%esi
	shl    %cl,%rsi
	mov    %r9d,%ecx
	movzbl (%r10,%rcx,1),%ebx
	lea    0x0(,%r9,8),%ecx
	shl    %cl,%rbx
	or     %rbx,%rsi
	or     %rdx,%rsi
	mov    %rsi,-0x20(%rsp)
	jmp    
	movzbl -0x1(%r10,%rcx,1),%eax
	movzbl %dl,%esi
	mov    %r8d,%r9d
	shr    %rcx
	movzbl (%r10,%rcx,1),%ecx
	shl    $0x10,%esi
	shl    $0x8,%r9d
	mov    $0x1,%r14d
	or     %r9d,%esi
	or     %esi,%eax
	shl    $0x18,%ecx
	or     %eax,%ecx
	mov    $0x87275a9b,%eax
	add    %rbx,%rax
	xor    %rax,%rcx
	mov    %rcx,%rax
	shr    $0x21,%rax
	xor    %rcx,%rax
	movabs $0xc2b2ae3d27d4eb4f,%rcx
	imul   %rcx,%rax
	mov    %rax,%rcx
	shr    $0x1d,%rcx
	xor    %rcx,%rax
	movabs $0x165667b19e3779f9,%rcx
	imul   %rcx,%rax
	mov    %rax,%rcx
	shr    $0x20,%rcx
	xor    %rcx,%rax
	and    %eax,%r12d
	shr    $0x32,%rax
	jmp    


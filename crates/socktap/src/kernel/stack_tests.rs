//! The BPF stack limit, checked on the compiled object without a kernel:
//! a program and the bpf_loop callback it calls share 512 bytes, each
//! frame rounded up to 32. Newer verifiers count them apart, so only the
//! old kernels of the matrix (6.1) would catch a program that grew too big;
//! this test catches it on any machine.

/// Little-endian integers at an offset.
fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}
fn u32_at(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize
}
fn u64_at(b: &[u8], o: usize) -> usize {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize
}

/// A function symbol: its name, section index, offset and size.
type Function = (String, usize, usize, usize);

/// Every function symbol, and each section's (file offset, size).
fn functions(elf: &[u8]) -> (Vec<Function>, Vec<(usize, usize)>) {
    let shoff = u64_at(elf, 0x28);
    let (shentsize, shnum) = (u16_at(elf, 0x3a), u16_at(elf, 0x3c));
    // Each section: (file offset, size), and the symbol table with its strings.
    let sections: Vec<(usize, usize, usize, usize)> = (0..shnum)
        .map(|i| {
            let h = shoff + i * shentsize;
            // (type, offset, size, link)
            (
                u32_at(elf, h + 4),
                u64_at(elf, h + 0x18),
                u64_at(elf, h + 0x20),
                u32_at(elf, h + 0x28),
            )
        })
        .collect();
    let (_, symoff, symsize, strtab) = *sections.iter().find(|s| s.0 == 2).expect("a symbol table");
    let stroff = sections[strtab].1;
    let mut out = Vec::new();
    for s in (symoff..symoff + symsize).step_by(24) {
        let info = elf[s + 4];
        if info & 0xf != 2 {
            continue; // not STT_FUNC
        }
        let name_at = stroff + u32_at(elf, s);
        let end = elf[name_at..].iter().position(|&c| c == 0).unwrap();
        let name = String::from_utf8_lossy(&elf[name_at..name_at + end]).into_owned();
        out.push((
            name,
            u16_at(elf, s + 6),
            u64_at(elf, s + 8),
            u64_at(elf, s + 16),
        ));
    }
    (out, sections.iter().map(|s| (s.1, s.2)).collect())
}

/// The deepest stack slot a function's instructions touch through r10.
fn depth(code: &[u8]) -> usize {
    code.chunks(8)
        .filter_map(|insn| {
            let class = insn[0] & 0x07;
            let (dst, src) = (insn[1] & 0x0f, insn[1] >> 4);
            let off = i16::from_le_bytes([insn[2], insn[3]]);
            // stores (ST, STX) through r10, loads (LDX) from r10
            let uses_fp =
                ((class == 0x02 || class == 0x03) && dst == 10) || (class == 0x01 && src == 10);
            (uses_fp && off < 0).then(|| off.unsigned_abs() as usize)
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn programs_and_their_loop_callbacks_fit_in_512_bytes_of_stack() {
    let elf: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/socktap.bpf.o"));
    let (funcs, sections) = functions(elf);
    // None for a function the compiler inlined everywhere.
    let depth_of = |name: &str| {
        let (_, sec, off, size) = funcs.iter().find(|f| f.0 == name)?;
        let base = sections[*sec].0 + off;
        Some(depth(&elf[base..base + size]))
    };
    let round = |n: usize| n.div_ceil(32) * 32;
    let callback = [
        "mmsg_entry_cb",
        "mmsg_entry_cb_old",
        "mmsg_result_cb",
        "scan_one",
    ]
    .iter()
    .filter_map(|c| depth_of(c).map(round))
    .max()
    .expect("bpf_loop callbacks in the object");
    let programs = [
        "sys_enter",
        "sys_enter_noloop",
        "sys_exit",
        "sys_exit_noloop",
    ];
    for program in programs
        .iter()
        .chain(&["sched_process_exit", "sched_process_exit_noloop"])
    {
        let own = round(depth_of(program).unwrap_or_else(|| panic!("no program {program}")));
        let total = own + callback;
        assert!(
            total <= 512,
            "{program}: {own} bytes + a callback's {callback} = {total} > 512"
        );
    }
}

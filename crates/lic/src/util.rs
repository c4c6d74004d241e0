//! Small helpers without libtorch shared across layers: hex strings, the CPU model name.

/// Lower-case hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The CPU's `model name` from /proc/cpuinfo (the text after the first `:`, trimmed), when known.
pub fn cpu_model() -> Option<String> {
    cpu_model_in(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

/// [`cpu_model`] on the text of a /proc/cpuinfo file.
pub fn cpu_model_in(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_cpu_model() {
        assert_eq!(hex(&[0x00, 0xab, 0x1f]), "00ab1f");
        let info = "processor\t: 0\nmodel name\t: Some CPU @ 2.20GHz\nflags\t: x\n";
        assert_eq!(cpu_model_in(info).as_deref(), Some("Some CPU @ 2.20GHz"));
        assert_eq!(cpu_model_in("processor : 0\n"), None);
    }
}

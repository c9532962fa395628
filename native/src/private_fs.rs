//! Files only the user can reach: the state folder (created 0700, and refused when another
//! user owns it or others can enter it), files opened without following symbolic links, and
//! atomic replacement through an unpredictable, exclusively created temporary file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Creates `dir` (and its parents) with mode 0700 where missing.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Refuses a folder that another user owns or that anyone but its owner can use
/// (`mode & 077 != 0`): tokens written there could be read or swapped. The error says what to
/// run. A missing folder passes (it will be created private).
pub(crate) fn check_private_dir(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot inspect the folder {}: {e}", dir.display())),
        };
        if !meta.is_dir() {
            return Err(format!("{} is not a folder", dir.display()));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(format!(
                "the folder {} belongs to another user (uid {}, you are uid {me}); mcp-auth keeps tokens only in a folder of your own: point XDG_STATE_HOME elsewhere, or `chown {me} {}`",
                dir.display(),
                meta.uid(),
                dir.display()
            ));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "the folder {} can be used by other users (mode {mode:03o}); run `chmod 700 {}`",
                dir.display(),
                dir.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Reads a whole file without following a symbolic link; `None` when it does not exist.
pub(crate) fn read_no_follow(path: &Path) -> std::io::Result<Option<String>> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    no_follow(&mut opts);
    match opts.open(path) {
        Ok(mut f) => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut f, &mut text)?;
            Ok(Some(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(explain_link(path, e)),
    }
}

/// Replaces `path` with `bytes`: written to a fresh temporary file beside it (random name,
/// exclusive create, no symbolic link followed, mode 0600), synced, renamed over `path`, and
/// the folder synced. A symbolic link at `path` is refused, never written through.
pub(crate) fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent folder"))?;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other(format!(
            "{} is a symbolic link; mcp-auth does not write through links (remove it)",
            path.display()
        )));
    }
    let tmp = temp_path(path)?;
    let written = create_new_private(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Removes the temporary files a killed writer left beside `path` (`.<name>.<hex>.tmp`).
/// Only for callers that hold the writer lock of `path`: then no live writer owns one. Links
/// and anything but plain files are left alone; failures are ignored (a leftover is harmless).
pub(crate) fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let Some(middle) = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
        else {
            continue;
        };
        let ours = middle.len() == 24 && middle.bytes().all(|b| b.is_ascii_hexdigit());
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `.<name>.<random hex>.tmp` beside `path`.
fn temp_path(path: &Path) -> std::io::Result<PathBuf> {
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    Ok(path.with_file_name(format!(".{name}.{hex}.tmp")))
}

/// Creates a new file (failing if anything, a link included, is already there), mode 0600.
pub(crate) fn create_new_private(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    no_follow(&mut opts);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|e| explain_link(path, e))
}

fn no_follow(opts: &mut std::fs::OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = opts;
}

fn explain_link(path: &Path, e: std::io::Error) -> std::io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return std::io::Error::other(format!(
            "{} is a symbolic link; mcp-auth does not follow links to token files (remove it)",
            path.display()
        ));
    }
    let _ = path;
    e
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set_mode(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn a_symlinked_target_is_refused_and_its_file_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let attacker = dir.path().join("attacker.txt");
        std::fs::write(&attacker, "attacker's").expect("write");
        let store = dir.path().join("store.json");
        std::os::unix::fs::symlink(&attacker, &store).expect("symlink");
        let err = replace_private(&store, b"{\"secret\":1}").expect_err("refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = read_no_follow(&store).expect_err("not read through");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&attacker).expect("read"),
            "attacker's"
        );
        assert!(std::fs::symlink_metadata(&store)
            .expect("meta")
            .file_type()
            .is_symlink());
    }

    #[test]
    fn a_planted_temp_path_is_refused_and_its_file_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let attacker = dir.path().join("attacker.txt");
        std::fs::write(&attacker, "attacker's").expect("write");
        let planted = dir.path().join(".store.json.tmp");
        std::os::unix::fs::symlink(&attacker, &planted).expect("symlink");
        let err = create_new_private(&planted).expect_err("refused");
        assert!(
            err.kind() == std::io::ErrorKind::AlreadyExists
                || err.to_string().contains("symbolic link"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&attacker).expect("read"),
            "attacker's"
        );
    }

    #[test]
    fn temp_names_are_unpredictable() {
        let p = Path::new("/x/store.json");
        let a = temp_path(p).expect("a");
        let b = temp_path(p).expect("b");
        assert_ne!(a, b);
        assert!(a.to_string_lossy().starts_with("/x/.store.json."));
    }

    #[test]
    fn stale_temp_files_of_the_store_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("store.json");
        replace_private(&p, b"one").expect("first");
        let stale = temp_path(&p).expect("stale");
        std::fs::write(&stale, b"left by a killed writer").expect("plant");
        let other = dir.path().join(".other.json.00112233445566778899aabb.tmp");
        std::fs::write(&other, b"not ours").expect("plant");
        let odd = dir.path().join(".store.json.notours.tmp");
        std::fs::write(&odd, b"not ours").expect("plant");
        remove_stale_temps(&p);
        assert!(
            !stale.exists(),
            "a stale temp file of this store is removed"
        );
        assert!(other.exists(), "another file's temp file is left alone");
        assert!(odd.exists(), "a name we do not make is left alone");
        assert_eq!(read_no_follow(&p).expect("read").as_deref(), Some("one"));
    }

    #[test]
    fn replaced_file_is_private_and_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("store.json");
        replace_private(&p, b"one").expect("first");
        replace_private(&p, b"two").expect("second");
        assert_eq!(read_no_follow(&p).expect("read").as_deref(), Some("two"));
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn a_folder_others_can_use_is_refused_with_what_to_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("mcp-auth");
        create_private_dir(&state).expect("mkdir");
        assert_eq!(check_private_dir(&state), Ok(()));
        set_mode(&state, 0o770);
        let err = check_private_dir(&state).expect_err("group-writable");
        assert!(
            err.contains("mode 770") && err.contains(&format!("chmod 700 {}", state.display())),
            "{err}"
        );
        set_mode(&state, 0o705);
        assert!(check_private_dir(&state).is_err());
        assert_eq!(check_private_dir(&dir.path().join("absent")), Ok(()));
    }
}

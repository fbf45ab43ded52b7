//! What the repository states in more than one place stays the same: the WIT each crate is
//! generated from is the repository's `wit/`, and the README shows the guest profile the host
//! really builds with.

use std::path::Path;

use crate::support::workspace_root;

/// The `.wit` files of a folder, by name.
fn wit_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "wit"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn each_crate_is_generated_from_an_identical_copy_of_the_wit() {
    let root = workspace_root();
    let wit = wit_files(&root.join("wit"));
    assert!(!wit.is_empty());
    for copy in ["guest-sdk/wit", "host-harness/wit"] {
        let copied = wit_files(&root.join(copy));
        let names = |files: &[(String, Vec<u8>)]| -> Vec<String> {
            files.iter().map(|(name, _)| name.clone()).collect()
        };
        assert_eq!(
            names(&copied),
            names(&wit),
            "{copy} must hold the files of wit/: cp wit/*.wit {copy}/"
        );
        for ((name, bytes), (_, original)) in copied.iter().zip(&wit) {
            assert!(
                bytes == original,
                "{copy}/{name} differs from wit/{name}: cp wit/*.wit {copy}/"
            );
        }
    }
}

#[test]
fn the_readme_shows_the_guest_profile_the_host_builds_with() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!(
            "```toml\n{}```",
            dify_plugin_host::build::GUEST_PROFILE
        )),
        "README.md must show build::GUEST_PROFILE exactly"
    );
}

//! What the status page's browser tests need: Debian's Chromium (`/usr/bin/chromium`) and
//! axe-core, the accessibility rules, from npm into `.npm-axe/` under the workspace (pinned;
//! Node.js and npm come from apt when the machine has none). Both are installed only when
//! missing, so a second run changes nothing.

use std::path::PathBuf;

use crate::{ensure_apt_binary, run, succeeds, workspace_root};

/// The axe-core release the tests run.
const AXE_CORE: &str = "axe-core@4.14.1";

/// The Chromium binary.
pub fn ensure_chromium() -> Result<PathBuf, String> {
    ensure_apt_binary("/usr/bin/chromium", "chromium", "the status page's browser tests")
}

/// axe-core's `axe.min.js`.
pub fn ensure_axe() -> Result<PathBuf, String> {
    let prefix = workspace_root().join(".npm-axe");
    let script = prefix.join("node_modules/axe-core/axe.min.js");
    let pinned = std::fs::read_to_string(prefix.join("node_modules/axe-core/package.json")).is_ok_and(|manifest| {
        manifest.contains(&format!("\"version\": \"{}\"", AXE_CORE.trim_start_matches("axe-core@")))
    });
    if script.exists() && pinned {
        return Ok(script);
    }
    if !succeeds("npm", &["--version"]) {
        ensure_apt_binary("/usr/bin/npm", "npm", "installing axe-core")?;
    }
    eprintln!("==> installing {AXE_CORE} from npm into {}", prefix.display());
    std::fs::create_dir_all(&prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
    let prefix_text = prefix.display().to_string();
    run(
        "npm",
        &["install", "--prefix", &prefix_text, "--no-audit", "--no-fund", "--save-exact", AXE_CORE],
        &[("npm_config_update_notifier", "false")],
    )?;
    if script.exists() { Ok(script) } else { Err(format!("npm installed no {}", script.display())) }
}

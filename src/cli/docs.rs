//! Completion scripts and the man page, generated from the same clap
//! definitions as the flags themselves.

use anyhow::Result;
use clap::CommandFactory;

use super::args::Cli;

/// The completion script for `shell`.
pub(super) fn completions(shell: clap_complete::Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "amlnet", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// One man page, amlnet(1): the top command, then each subcommand with its
/// own options, then the exit statuses.
pub(super) fn man() -> Result<String> {
    let cmd = Cli::command().version(crate::report::VERSION_LINE);
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        out.extend_from_slice(
            format!(".SH \"AMLNET {}\"\n{}\n", sub.get_name().to_uppercase(), roff_text(&about)).as_bytes(),
        );
        let sub = sub.clone().bin_name(format!("amlnet {}", sub.get_name()));
        let sub_man = clap_mangen::Man::new(sub.clone());
        let mut synopsis = Vec::new();
        sub_man.render_synopsis_section(&mut synopsis)?;
        let mut options = Vec::new();
        sub_man.render_options_section(&mut options)?;
        for part in [synopsis, options] {
            let text = String::from_utf8_lossy(&part).into_owned();
            // Sections of the subcommand become subsections of its section.
            out.extend_from_slice(text.replace(".SH ", ".SS ").as_bytes());
        }
    }
    out.extend_from_slice(
        concat!(
            ".SH \"EXIT STATUS\"\n",
            ".TP\n0\nno finding at or above \\-\\-fail\\-on (diff: no finding added)\n",
            ".TP\n1\nat least one such finding, on any machine for merge (diff: findings were added)\n",
            ".TP\n2\nbad usage or bad input: one line on standard error naming the input\n",
        )
        .as_bytes(),
    );
    man.render_version_section(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn roff_text(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') { format!("\\&{escaped}") } else { escaped }
}

//! The bundled example: the `rules/romashka` pack and its sample data, compiled into the
//! binary so that `bonusrun run` works from any directory with no flags.

use crate::load::DataSource;
use crate::pack::PackSource;

macro_rules! pack_file {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/rules/romashka/",
                $path
            )) as &[u8],
        )
    };
}

static PACK_FILES: &[(&str, &[u8])] = &[
    pack_file!("pack.toml"),
    pack_file!("key_clients.rhai"),
    pack_file!("kpis.rhai"),
    pack_file!("bonus.rhai"),
    pack_file!("tables/payout_curve.csv"),
    pack_file!("tables/guarantees.csv"),
    pack_file!("tables/draws.csv"),
];

static DATA_FILES: &[(&str, &[u8])] = &[
    pack_file!("data/clients.csv"),
    pack_file!("data/managers.csv"),
    pack_file!("data/sales.csv"),
    pack_file!("data/plans.csv"),
    pack_file!("data/contracts.csv"),
];

/// The bundled Romashka pack.
pub fn pack() -> PackSource {
    PackSource::Embedded {
        label: "bundled:rules/romashka".into(),
        files: PACK_FILES,
    }
}

/// The bundled Romashka sample data. File names drop the `data/` prefix.
pub fn data() -> DataSource {
    static STRIPPED: std::sync::OnceLock<Vec<(&'static str, &'static [u8])>> =
        std::sync::OnceLock::new();
    let files = STRIPPED.get_or_init(|| {
        DATA_FILES
            .iter()
            .map(|(n, b)| (n.strip_prefix("data/").unwrap_or(n), *b))
            .collect()
    });
    DataSource::Embedded {
        label: "bundled:rules/romashka/data".into(),
        files: files.as_slice(),
    }
}

/// The text of a bundled pack file shown as `bundled:rules/romashka/<file>`.
pub fn text(shown: &str) -> Option<String> {
    let rel = shown.strip_prefix("bundled:rules/romashka/")?;
    PACK_FILES
        .iter()
        .find(|(n, _)| *n == rel)
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
}

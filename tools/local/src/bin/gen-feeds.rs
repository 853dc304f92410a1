//! Writes synthetic deliveries of every feed into a directory laid out like the S3 inbound
//! prefix (`<dir>/inbound/<feed>/<YYYYMMDDTHHMMSSZ>-0001.jsonl.gz`).
//!
//! usage: gen-feeds <dir> [enterprises=100] [employees_each=50] [pcr_records=10000] [seed=1]

use chrono::Utc;
use local::generate::{self, Population};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .ok_or("usage: gen-feeds <dir> [enterprises] [employees_each] [pcr_records] [seed]")?;
    let number =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (enterprises, employees, pcr, seed) = (
        number(2, 100),
        number(3, 50),
        number(4, 10_000),
        number(5, 1),
    );
    let now = Utc::now();
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let month = now.format("%Y-%m").to_string();
    let mut population = Population::synthetic(seed as u64, enterprises, employees, None);
    let feeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "registry",
            generate::jsonl(population.registry_lines().collect::<Vec<_>>()),
        ),
        (
            "roster",
            generate::jsonl(population.roster_lines(&month).collect::<Vec<_>>()),
        ),
        (
            "pcr",
            generate::jsonl(population.pcr_lines(pcr, now, chrono::Duration::hours(96))),
        ),
        (
            "vaccination",
            generate::jsonl(population.vaccination_lines()),
        ),
        (
            "sites",
            generate::jsonl(generate::site_lines(seed as u64, 2, now)),
        ),
        ("zones", generate::jsonl(generate::zone_lines(now))),
    ];
    for (feed, body) in feeds {
        let folder = std::path::Path::new(dir).join("inbound").join(feed);
        std::fs::create_dir_all(&folder)?;
        let path = folder.join(format!("{stamp}-0001.jsonl.gz"));
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(&path)?,
            flate2::Compression::default(),
        );
        encoder.write_all(&body)?;
        encoder.finish()?;
        println!("{}", path.display());
    }
    Ok(())
}

//! Synthetic deliveries of every feed, of any size: valid resident IDs and USCCs (check
//! characters computed), Shenzhen's districts and streets, plausible PCR and vaccination
//! histories. Deterministic for a seed. The local stack, the tests and the benchmarks use it;
//! `cargo run -p local --bin gen-feeds` writes files in the formats of `docs/feeds.md`.

use crate::demo::{self, Cast};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use fangyitong::ids::Uscc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Shenzhen's districts and (some of) their streets (街道).
pub const DISTRICTS: &[(&str, &[&str])] = &[
    (
        "福田区",
        &[
            "园岭街道",
            "南园街道",
            "福田街道",
            "沙头街道",
            "香蜜湖街道",
            "梅林街道",
            "莲花街道",
            "华富街道",
            "福保街道",
            "华强北街道",
        ],
    ),
    (
        "罗湖区",
        &[
            "桂园街道",
            "黄贝街道",
            "东门街道",
            "翠竹街道",
            "南湖街道",
            "笋岗街道",
            "东湖街道",
            "莲塘街道",
            "东晓街道",
            "清水河街道",
        ],
    ),
    (
        "南山区",
        &[
            "南头街道",
            "南山街道",
            "沙河街道",
            "蛇口街道",
            "招商街道",
            "粤海街道",
            "桃源街道",
            "西丽街道",
        ],
    ),
    (
        "宝安区",
        &[
            "新安街道",
            "西乡街道",
            "航城街道",
            "福永街道",
            "福海街道",
            "沙井街道",
            "新桥街道",
            "松岗街道",
            "燕罗街道",
            "石岩街道",
        ],
    ),
    (
        "龙岗区",
        &[
            "平湖街道",
            "坪地街道",
            "横岗街道",
            "龙城街道",
            "龙岗街道",
            "宝龙街道",
            "布吉街道",
            "吉华街道",
            "坂田街道",
            "南湾街道",
            "园山街道",
        ],
    ),
    (
        "盐田区",
        &["梅沙街道", "盐田街道", "沙头角街道", "海山街道"],
    ),
    (
        "龙华区",
        &[
            "观湖街道",
            "民治街道",
            "龙华街道",
            "大浪街道",
            "福城街道",
            "观澜街道",
        ],
    ),
    (
        "坪山区",
        &[
            "坪山街道",
            "马峦街道",
            "碧岭街道",
            "石井街道",
            "坑梓街道",
            "龙田街道",
        ],
    ),
    (
        "光明区",
        &[
            "光明街道",
            "公明街道",
            "新湖街道",
            "凤凰街道",
            "玉塘街道",
            "马田街道",
        ],
    ),
    ("大鹏新区", &["葵涌街道", "大鹏街道", "南澳街道"]),
];

const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: [&str; 16] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞",
];
const PRODUCTS: [&str; 4] = [
    "北京生物 新冠灭活疫苗(Vero细胞)",
    "科兴 克尔来福",
    "智飞 ZF2001",
    "康希诺 Ad5-nCoV",
];
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

#[derive(Debug, Clone)]
pub struct Enterprise {
    pub uscc: Uscc,
    pub name: String,
    pub district: &'static str,
    pub legal_rep: Person,
    pub employees: Vec<Person>,
}

/// A synthetic city: enterprises, their legal reps and employees.
pub struct Population {
    pub enterprises: Vec<Enterprise>,
    rng: StdRng,
}

fn person(rng: &mut StdRng) -> Person {
    let name = format!(
        "{}{}{}",
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        GIVEN[rng.random_range(0..GIVEN.len())],
        GIVEN[rng.random_range(0..GIVEN.len())]
    );
    Person {
        name,
        id_number: demo::random_resident_id(rng),
        phone: format!("13{:09}", rng.random_range(0..1_000_000_000u32)),
    }
}

fn organisation_code(mut n: u64) -> String {
    // "MA" + 7 base-31 characters: unique per n below 31^7 (27 billion).
    let mut code = [b'0'; 7];
    for slot in code.iter_mut().rev() {
        *slot = ALPHABET[(n % 31) as usize];
        n /= 31;
    }
    format!("MA{}", String::from_utf8_lossy(&code))
}

impl Population {
    /// `enterprises` enterprises of `employees_each` employees each (the first is the demo
    /// enterprise with the demo cast in it when `cast` is given).
    pub fn synthetic(
        seed: u64,
        enterprises: usize,
        employees_each: usize,
        cast: Option<&Cast>,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut list = Vec::with_capacity(enterprises);
        for i in 0..enterprises {
            let (district, _) = DISTRICTS[rng.random_range(0..DISTRICTS.len())];
            let mut employees: Vec<Person> =
                (0..employees_each).map(|_| person(&mut rng)).collect();
            let legal_rep = person(&mut rng);
            list.push(Enterprise {
                uscc: demo::uscc(&organisation_code(1_000 + i as u64)),
                name: format!("深圳市合成{}科技有限公司", i + 1),
                district,
                legal_rep,
                employees: std::mem::take(&mut employees),
            });
        }
        if let (Some(cast), Some(first)) = (cast, list.first_mut()) {
            let as_person = |p: &crate::tokens::Persona| Person {
                name: p.name.clone(),
                id_number: p.id_number.clone(),
                phone: "13800138000".into(),
            };
            first.uscc = demo::demo_uscc();
            first.name = demo::DEMO_ENTERPRISE_NAME.into();
            first.district = "南山区";
            first.legal_rep = as_person(&cast.legal_rep);
            if first.employees.len() >= 2 {
                first.employees[0] = as_person(&cast.agent);
                first.employees[1] = as_person(&cast.employee);
            }
        }
        Self {
            enterprises: list,
            rng,
        }
    }

    /// Grows the first enterprise (the demo one) to `employees` employees.
    pub fn grow_first(mut self, employees: usize) -> Self {
        while self
            .enterprises
            .first()
            .is_some_and(|e| e.employees.len() < employees)
        {
            let p = person(&mut self.rng);
            self.enterprises[0].employees.push(p);
        }
        self
    }

    pub fn registry_lines(&self) -> impl Iterator<Item = Value> + '_ {
        self.enterprises.iter().map(|e| {
            json!({"uscc": e.uscc.to_string(), "name": e.name, "district": e.district,
                   "legal_rep": {"name": e.legal_rep.name, "id_type": "resident_id", "id_number": e.legal_rep.id_number}})
        })
    }

    pub fn roster_lines<'a>(&'a self, month: &'a str) -> impl Iterator<Item = Value> + 'a {
        self.enterprises.iter().flat_map(move |e| {
            e.employees.iter().map(move |p| {
                json!({"uscc": e.uscc.to_string(), "month": month, "name": p.name, "id_type": "resident_id",
                       "id_number": p.id_number, "phone": p.phone})
            })
        })
    }

    /// `count` PCR samplings of employees drawn evenly from the whole population (so a large
    /// enterprise gets its share), in the `within` before `now` (at least an hour): 90 % in
    /// Shenzhen, results 1-12 hours after sampling, still pending when that is after `now`.
    pub fn pcr_lines(&mut self, count: usize, now: DateTime<Utc>, within: Duration) -> Vec<Value> {
        let window_minutes = within.num_minutes().max(60);
        // Where each enterprise's employees start in the population, for an even draw.
        let starts: Vec<usize> = self
            .enterprises
            .iter()
            .scan(0, |next, e| {
                let start = *next;
                *next += e.employees.len();
                Some(start)
            })
            .collect();
        let people: usize = self.enterprises.iter().map(|e| e.employees.len()).sum();
        let mut lines = Vec::with_capacity(count);
        if people == 0 {
            return lines;
        }
        for _ in 0..count {
            let n = self.rng.random_range(0..people);
            // The last enterprise starting at or before n (empty ones share a start and are
            // skipped by taking the last).
            let i = starts.partition_point(|&start| start <= n) - 1;
            let p = &self.enterprises[i].employees[n - starts[i]];
            let sampled = now - Duration::minutes(self.rng.random_range(30..window_minutes));
            let result_at = sampled + Duration::minutes(self.rng.random_range(60..12 * 60));
            let (result, result_at) = if result_at > now {
                ("pending", Value::Null)
            } else {
                ("negative", json!(result_at))
            };
            let in_sz = self.rng.random_bool(0.9);
            let (district, streets) = DISTRICTS[self.rng.random_range(0..DISTRICTS.len())];
            let street = streets[self.rng.random_range(0..streets.len())];
            lines.push(json!({"id_type": "resident_id", "id_number": p.id_number, "sampled_at": sampled, "result_at": result_at,
                "result": result, "site": format!("{district}{street}便民采样点"), "city": if in_sz { "深圳市" } else { "东莞市" }}));
        }
        lines
    }

    /// Official doses for every employee: 0 to 3, dates in 2021-2022.
    pub fn vaccination_lines(&mut self) -> Vec<Value> {
        let mut lines = Vec::new();
        for e in &self.enterprises {
            for p in &e.employees {
                let doses = match self.rng.random_range(0..10) {
                    0 => 0,
                    1 => 1,
                    2..=5 => 2,
                    _ => 3,
                };
                let product = PRODUCTS[self.rng.random_range(0..2)];
                let mut date = NaiveDate::from_ymd_opt(2021, 3, 1).expect("valid")
                    + Duration::days(self.rng.random_range(0..120));
                for dose in 1..=doses {
                    lines.push(json!({"id_type": "resident_id", "id_number": p.id_number, "dose": dose, "date": date, "product": product}));
                    date += Duration::days(if dose == 2 { 200 } else { 30 });
                }
            }
        }
        lines
    }
}

/// Sampling sites: `per_street` in every street, with live status.
pub fn site_lines(seed: u64, per_street: usize, now: DateTime<Utc>) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lines = Vec::new();
    for (d, (district, streets)) in DISTRICTS.iter().enumerate() {
        for (s, street) in streets.iter().enumerate() {
            for k in 0..per_street {
                let status =
                    ["open", "open", "open", "busy", "paused", "closed"][rng.random_range(0..6)];
                lines.push(json!({"id": format!("SZ-{d:02}{s:02}{k:02}"), "name": format!("{street}便民核酸采样点{}", k + 1),
                    "district": district, "street": street, "address": format!("{district}{street}社区服务中心旁"),
                    "lng": 113.85 + rng.random_range(0.0..0.6), "lat": 22.50 + rng.random_range(0.0..0.3),
                    "opening_hours": "08:00-12:00, 14:00-20:00", "status": status,
                    "waiting_minutes": (status != "closed").then(|| rng.random_range(0..60)), "updated_at": now - Duration::minutes(rng.random_range(0..30))}));
            }
        }
    }
    lines
}

/// A few control zones of each level.
pub fn zone_lines(now: DateTime<Utc>) -> Vec<Value> {
    let zone = |id: &str, level: &str, district: &str, street: &str, area: &str, days: i64| {
        json!({"id": id, "level": level, "district": district, "street": street, "area": area,
               "effective_from": now - Duration::days(2), "effective_until": (days > 0).then(|| now + Duration::days(days))})
    };
    vec![
        zone(
            "Z-FT-001",
            "sealed",
            "福田区",
            "华富街道",
            "华富村东区1-6栋",
            7,
        ),
        zone(
            "Z-FT-002",
            "controlled",
            "福田区",
            "华富街道",
            "华富村东区周边街区",
            7,
        ),
        zone(
            "Z-FT-003",
            "prevention",
            "福田区",
            "莲花街道",
            "莲花街道其余区域",
            0,
        ),
        zone(
            "Z-NS-001",
            "controlled",
            "南山区",
            "粤海街道",
            "科技园南区部分楼栋",
            3,
        ),
        zone(
            "Z-LG-001",
            "sealed",
            "龙岗区",
            "布吉街道",
            "布吉某城中村",
            5,
        ),
    ]
}

/// Joins JSON values into a JSON Lines body.
pub fn jsonl(lines: impl IntoIterator<Item = Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

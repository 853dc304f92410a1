//! Demo personas and data for the local stack and the tests: valid synthetic ID numbers and
//! USCCs (check characters computed, never copied from real people), written through the same
//! domain functions the sync and the API use.

use crate::functions::Functions;
use crate::idp::DevIdentityProvider;
use crate::tokens::{Persona, TokenMinter};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use fangyitong::app::IdentityConfig;
use fangyitong::authorize::{self, Decision, DecisionRequest, Method};
use fangyitong::ids::{
    IdDocument, IdType, PersonKeyer, Phone, Uscc, resident_id_check_char, uscc_check_character,
};
use fangyitong::registry::{self, EnterpriseRecord};
use fangyitong::roster::{self, MemberRecord, Membership, Source};
use fangyitong::tenancy;
use rand::Rng;

pub const DEV_PRIVATE_KEY: &str = include_str!("../../../dev/identity-dev-private.pem");
pub const DEV_PUBLIC_KEY: &str = include_str!("../../../dev/identity-dev-public.pem");
/// The development key's id in the stand-in provider's JWK set.
pub const DEV_KEY_ID: &str = "dev-2022-04";
/// The key a rotation moves to (tests of key rotation).
pub const DEV_NEXT_PRIVATE_KEY: &str = include_str!("../../../dev/identity-dev-next-private.pem");
pub const DEV_NEXT_KEY_ID: &str = "dev-2022-05";
pub const DEV_ISSUER: &str = "https://idp.shenzhen-iqi.local";
pub const DEV_AUDIENCE: &str = "fangyitong";

/// Development secrets: public by being in this repository, never for a deployed stack.
pub const DEV_PERSON_KEY_SECRET: &str = "dev-only-person-key-secret-0123456789abcdef";
pub const DEV_LINK_SIGNING_SECRET: &str = "dev-only-link-signing-secret-0123456789abcdef";

pub fn dev_keyer() -> PersonKeyer {
    PersonKeyer::new(DEV_PERSON_KEY_SECRET.as_bytes()).expect("the dev secret is long enough")
}

/// The development identity provider, as functions are configured for it: its JWKS URL,
/// served by [`DevIdentityProvider::shared`], whose key is [`DEV_PRIVATE_KEY`].
pub fn dev_identity() -> IdentityConfig {
    DevIdentityProvider::shared().identity_config()
}

/// The header of a token signed with the development key: ES256, naming [`DEV_KEY_ID`].
pub fn dev_header() -> jsonwebtoken::Header {
    jsonwebtoken::Header {
        kid: Some(DEV_KEY_ID.into()),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256)
    }
}

/// A minter of the development provider's tokens, signed with its key [`DEV_KEY_ID`].
pub fn minter() -> TokenMinter {
    TokenMinter::from_ec_pem(DEV_PRIVATE_KEY.as_bytes(), DEV_ISSUER, DEV_AUDIENCE)
        .expect("the dev key is a valid EC key")
        .with_kid(DEV_KEY_ID)
}

/// A resident ID number: address code, birth date, sequence, and the GB 11643 check character.
pub fn resident_id(address_code: &str, birth: NaiveDate, sequence: u16) -> String {
    let first17 = format!(
        "{address_code}{}{:03}",
        birth.format("%Y%m%d"),
        sequence % 1000
    );
    let check = resident_id_check_char(first17.as_bytes()).expect("17 digits");
    format!("{first17}{check}")
}

/// A random adult's resident ID from one of Shenzhen's district codes.
pub fn random_resident_id(rng: &mut impl Rng) -> String {
    const DISTRICTS: [&str; 9] = [
        "440303", "440304", "440305", "440306", "440307", "440308", "440309", "440310", "440311",
    ];
    let birth = NaiveDate::from_ymd_opt(1960, 1, 1).expect("valid")
        + Duration::days(rng.random_range(0..15_000));
    resident_id(
        DISTRICTS[rng.random_range(0..DISTRICTS.len())],
        birth,
        rng.random_range(0..1000),
    )
}

/// A USCC for a Shenzhen company (登记管理部门 9 = 工商, 类别 1 = 企业, 440300 = 深圳) with
/// the given 9-character organisation code.
pub fn uscc(organisation_code: &str) -> Uscc {
    let first17 = format!("91440300{organisation_code}");
    let check =
        uscc_check_character(first17.as_bytes()).expect("17 characters of the alphabet") as char;
    Uscc::parse(&format!("{first17}{check}")).expect("a computed check character is valid")
}

/// The demo cast.
pub struct Cast {
    pub legal_rep: Persona,
    pub agent: Persona,
    pub applicant: Persona,
    pub second_applicant: Persona,
    pub operator: Persona,
    pub foreign_legal_rep: Persona,
    pub employee: Persona,
}

fn persona(
    name: &str,
    id_type: IdType,
    id_number: String,
    face_verified_at: Option<DateTime<Utc>>,
    operator: bool,
) -> Persona {
    Persona {
        name: name.into(),
        id_type,
        id_number,
        face_verified_at,
        operator,
    }
}

impl Cast {
    /// Everyone face-verified at `face_at` (tokens minted later can move it).
    pub fn new(face_at: DateTime<Utc>) -> Self {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("valid date");
        let f = Some(face_at);
        Self {
            legal_rep: persona(
                "张建国",
                IdType::ResidentId,
                resident_id("440304", d(1975, 3, 14), 131),
                f,
                false,
            ),
            agent: persona(
                "李晓丹",
                IdType::ResidentId,
                resident_id("440305", d(1990, 7, 2), 242),
                f,
                false,
            ),
            applicant: persona(
                "王小明",
                IdType::ResidentId,
                resident_id("440306", d(1995, 11, 30), 353),
                f,
                false,
            ),
            second_applicant: persona(
                "陈思",
                IdType::ResidentId,
                resident_id("440307", d(1988, 5, 21), 464),
                f,
                false,
            ),
            operator: persona(
                "林运营",
                IdType::ResidentId,
                resident_id("440303", d(1985, 1, 9), 575),
                f,
                true,
            ),
            foreign_legal_rep: persona(
                "John Smith",
                IdType::Passport,
                "E12345678".into(),
                None,
                false,
            ),
            employee: persona(
                "刘员工",
                IdType::ResidentId,
                resident_id("440308", d(1998, 2, 3), 686),
                f,
                false,
            ),
        }
    }

    pub fn all(&self) -> [(&'static str, &Persona); 7] {
        [
            ("legal_rep", &self.legal_rep),
            ("agent", &self.agent),
            ("applicant", &self.applicant),
            ("second_applicant", &self.second_applicant),
            ("operator", &self.operator),
            ("foreign_legal_rep", &self.foreign_legal_rep),
            ("employee", &self.employee),
        ]
    }
}

pub fn document(p: &Persona) -> IdDocument {
    IdDocument::parse(p.id_type, &p.id_number).expect("demo personas carry valid documents")
}

pub const DEMO_ENTERPRISE_NAME: &str = "深圳市示例科技有限公司";
pub const FOREIGN_ENTERPRISE_NAME: &str = "深圳市环球贸易有限公司";

pub fn demo_uscc() -> Uscc {
    uscc("MA5D3M001")
}

pub fn foreign_uscc() -> Uscc {
    uscc("MA5D3M002")
}

/// Writes the demo enterprises through the registry path the sync uses.
pub async fn seed_registry(
    state: &Functions,
    cast: &Cast,
) -> Result<(), fangyitong::store::StoreError> {
    let now = state.core.clock.now();
    for (uscc, name, rep, district) in [
        (demo_uscc(), DEMO_ENTERPRISE_NAME, &cast.legal_rep, "南山区"),
        (
            foreign_uscc(),
            FOREIGN_ENTERPRISE_NAME,
            &cast.foreign_legal_rep,
            "福田区",
        ),
    ] {
        let record = EnterpriseRecord {
            uscc,
            name: name.into(),
            legal_rep: document(rep),
            legal_rep_name: rep.name.clone(),
            district: district.into(),
        };
        registry::apply_enterprise(&state.core.store, &state.keyer, &record, now).await?;
    }
    Ok(())
}

/// How many employees the demo enterprise has on its social-insurance roster.
pub const DEMO_EMPLOYEES: usize = 2_000;

/// The demo enterprise's roster: the cast's employee and agent plus synthetic people with valid
/// resident IDs (a fixed seed, so every start has the same people).
pub async fn seed_employees(
    state: &Functions,
    cast: &Cast,
    count: usize,
) -> Result<usize, fangyitong::store::StoreError> {
    use rand::SeedableRng;
    const SURNAMES: [&str; 12] = [
        "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
    ];
    const GIVEN: [&str; 12] = [
        "伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "娟", "涛",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_220_401);
    let now = state.core.clock.now();
    let uscc = demo_uscc();
    let mut records: Vec<MemberRecord> = [&cast.employee, &cast.agent]
        .into_iter()
        .map(|p| MemberRecord {
            document: document(p),
            name: p.name.clone(),
            phone: None,
        })
        .collect();
    while records.len() < count {
        let name = format!(
            "{}{}{}",
            SURNAMES[rng.random_range(0..12)],
            GIVEN[rng.random_range(0..12)],
            GIVEN[rng.random_range(0..12)]
        );
        let phone = Phone::parse(&format!("13{:09}", rng.random_range(0..1_000_000_000u32))).ok();
        let document = IdDocument::parse(IdType::ResidentId, &random_resident_id(&mut rng))
            .expect("generated IDs are valid");
        records.push(MemberRecord {
            document,
            name,
            phone,
        });
    }
    let members: Vec<Membership> = records
        .iter()
        .map(|r| {
            let mut member = Membership::new(&uscc, r, &state.keyer, Source::Roster, now);
            member.roster_month = Some(now.format("%Y-%m").to_string());
            member
        })
        .collect();
    roster::add_new(&state.core.store, &members, now).await?;
    Ok(members.len())
}

/// The demo agent applies and the legal rep approves — through the real flows, so the seed
/// leaves the same records (and audit trail) a person would. Harmless when already done.
pub async fn seed_agent(state: &Functions, cast: &Cast) -> Result<(), fangyitong::http::ApiError> {
    authorize_agent(state, &demo_uscc(), &cast.agent, &cast.legal_rep).await
}

/// `agent` applies to act for `uscc` and its `legal_rep` approves, through the same flows as
/// [`seed_agent`]. Harmless when already done.
pub async fn authorize_agent(
    state: &Functions,
    uscc: &Uscc,
    agent: &Persona,
    legal_rep: &Persona,
) -> Result<(), fangyitong::http::ApiError> {
    let now = state.core.clock.now();
    let minter = minter();
    let token = |p: &Persona| {
        let face = Persona {
            face_verified_at: Some(now),
            ..p.clone()
        };
        minter.mint(&face, now, Duration::minutes(1))
    };
    let agent = (state.verifier)
        .identify(&token(agent), now, &state.keyer)
        .await?;
    let legal_rep = (state.verifier)
        .identify(&token(legal_rep), now, &state.keyer)
        .await?;
    let linking = state.link_state();
    match authorize::apply(
        &linking,
        &agent,
        uscc,
        Method::Application,
        Some("负责公司防疫工作".into()),
    )
    .await
    {
        Ok(_) => {
            let access = tenancy::guard(&state.core, legal_rep, uscc).await?;
            let grant = DecisionRequest {
                decision: Decision::Grant,
                valid_until: None,
            };
            authorize::decide_application(
                &linking,
                &access,
                &authorize::AgentId::of(uscc, &agent.person),
                grant,
            )
            .await?;
            Ok(())
        }
        Err(fangyitong::authorize::AuthorizeError::AlreadyAuthorized) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The agent of the demo's lapsed offline grant.
pub const LAPSED_AGENT_NAME: &str = "郑经办";

/// An offline grant for the foreign-led enterprise that the operator made 20 days ago on e-mailed
/// materials, whose paper originals never came: lapsed, as the operators' list shows it. Made
/// through the real flow on a clock set back, so its records are those a person leaves.
/// Harmless when already done.
pub async fn seed_lapsed_offline_grant(
    state: &Functions,
    cast: &Cast,
) -> Result<(), fangyitong::http::ApiError> {
    let now = state.core.clock.now();
    let mut then = state.link_state();
    let lapsed = authorize::awaiting_originals(&then, authorize::Originals::Lapsed, None).await?;
    if lapsed
        .items
        .iter()
        .any(|a| a.agent_name == LAPSED_AGENT_NAME)
    {
        return Ok(());
    }
    let at = now - Duration::days(20);
    then.core.clock = std::sync::Arc::new(fangyitong::clock::ManualClock::new(at));
    let operator = Persona {
        face_verified_at: Some(at),
        ..cast.operator.clone()
    };
    let operator = (state.verifier)
        .identify(
            &minter().mint(&operator, at, Duration::minutes(1)),
            at,
            &state.keyer,
        )
        .await?;
    let request = authorize::OfflineGrantRequest {
        uscc: foreign_uscc().to_string(),
        agents: vec![authorize::OfflineAgent {
            name: LAPSED_AGENT_NAME.into(),
            id_type: IdType::ResidentId,
            id_number: resident_id(
                "440304",
                NaiveDate::from_ymd_opt(1986, 6, 6).expect("a date"),
                808,
            ),
        }],
        materials: authorize::Materials {
            application_form: true,
            business_licence: true,
            legal_rep_identity: true,
            agent_identity: true,
            email_reference: "MAIL-DEMO-0001".into(),
        },
        email_approved_at: at - Duration::hours(1),
        valid_until: None,
    };
    authorize::offline_grant(&then, &operator, request).await?;
    Ok(())
}

/// Tokens for the whole cast, minted and face-verified at `now`, valid 12 hours.
pub fn fresh_tokens(now: DateTime<Utc>) -> serde_json::Value {
    let cast = Cast::new(now);
    let minter = minter();
    let tokens = cast.all().into_iter().map(|(role, persona)| {
        (role.to_string(), serde_json::json!({ "name": persona.name, "token": minter.mint(persona, now, Duration::hours(12)) }))
    });
    serde_json::Value::Object(tokens.collect())
}

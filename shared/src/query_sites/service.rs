//! Sampling sites and control zones as people read them: filtered snapshots, the nearest sites,
//! the zones in effect and their rules.

use crate::app::Core;
use crate::feeds::{Site, SiteStatus, Zone, ZoneLevel};
use crate::http::ApiError;
use crate::sites::{self, Kind};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// The rules of each level, as the manual states them (§8).
pub fn rules(level: ZoneLevel) -> &'static str {
    match level {
        ZoneLevel::Sealed => "区域封闭、足不出户、服务上门",
        ZoneLevel::Controlled => "人不出区、严禁聚集",
        ZoneLevel::Prevention => "强化社会面管控，严格限制人员聚集",
    }
}

const MAX_NEAREST: usize = 20;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlaceQuery {
    /// 区, e.g. 福田区.
    pub district: Option<String>,
    /// 街道, e.g. 华富街道 (needs `district`).
    pub street: Option<String>,
}

/// Why a look-up of sites or zones is refused (each a 400 with its own code).
#[derive(Debug, thiserror::Error)]
pub enum SitesError {
    #[error("a street is looked up within its district")]
    DistrictRequired,
    #[error("not a district or street name")]
    InvalidPlace,
    #[error("give both district and street")]
    PlaceRequired,
    #[error("lng/lat must be a point in China (WGS-84 degrees)")]
    InvalidCoordinates,
    #[error("limit is 1 to {MAX_NEAREST}")]
    InvalidLimit,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SitesError> for ApiError {
    fn from(e: SitesError) -> Self {
        let code = match e {
            SitesError::DistrictRequired => "district_required",
            SitesError::InvalidPlace => "invalid_place",
            SitesError::PlaceRequired => "place_required",
            SitesError::InvalidCoordinates => "invalid_coordinates",
            SitesError::InvalidLimit => "invalid_limit",
            SitesError::Store(e) => return e.into(),
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl PlaceQuery {
    fn validated(&self) -> Result<(Option<&str>, Option<&str>), SitesError> {
        fn clean(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let (district, street) = (clean(&self.district), clean(&self.street));
        if street.is_some() && district.is_none() {
            return Err(SitesError::DistrictRequired);
        }
        if [district, street]
            .iter()
            .flatten()
            .any(|v| v.chars().count() > 20 || v.contains('#'))
        {
            return Err(SitesError::InvalidPlace);
        }
        Ok((district, street))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshot {
    /// When the snapshot answered from was published; absent when there is none yet.
    pub published_at: Option<DateTime<Utc>>,
}

async fn snapshot(state: &Core, kind: Kind) -> Result<Snapshot, SitesError> {
    Ok(Snapshot {
        published_at: sites::current(&state.store, kind)
            .await?
            .map(|p| p.published_at),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteList {
    pub snapshot: Snapshot,
    pub sites: Vec<Site>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct District {
    pub district: String,
    pub streets: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NearestQuery {
    /// Longitude, WGS-84 degrees (a point in China).
    #[param(minimum = 73.0, maximum = 136.0)]
    pub lng: f64,
    /// Latitude, WGS-84 degrees (a point in China).
    #[param(minimum = 3.0, maximum = 54.0)]
    pub lat: f64,
    /// How many sites (1-20, default 5).
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<usize>,
}

/// A sampling site and how far it is. The site's fields are written out (not flattened) so the
/// document describes exactly this object.
#[derive(Debug, Serialize, ToSchema)]
pub struct NearbySite {
    pub id: String,
    pub name: String,
    pub district: String,
    pub street: String,
    pub address: String,
    pub lng: f64,
    pub lat: f64,
    pub opening_hours: String,
    pub status: SiteStatus,
    pub waiting_minutes: Option<u32>,
    pub updated_at: DateTime<Utc>,
    pub distance_m: u32,
}

impl NearbySite {
    fn new(site: Site, distance_m: u32) -> Self {
        Self {
            id: site.id,
            name: site.name,
            district: site.district,
            street: site.street,
            address: site.address,
            lng: site.lng,
            lat: site.lat,
            opening_hours: site.opening_hours,
            status: site.status,
            waiting_minutes: site.waiting_minutes,
            updated_at: site.updated_at,
            distance_m,
        }
    }
}

/// Great-circle distance in metres.
fn distance_m(lng1: f64, lat1: f64, lng2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lng2 - lng1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6_371_000.0 * 2.0 * a.sqrt().asin()
}

/// A control zone in effect and its rules. The zone's fields are written out (not flattened) so
/// the document describes exactly this object.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneView {
    pub id: String,
    pub level: ZoneLevel,
    pub district: String,
    pub street: String,
    pub area: String,
    pub effective_from: DateTime<Utc>,
    pub effective_until: Option<DateTime<Utc>>,
    /// What the level means for people in it (manual §8).
    pub rules: &'static str,
}

impl From<Zone> for ZoneView {
    fn from(zone: Zone) -> Self {
        Self {
            rules: rules(zone.level),
            id: zone.id,
            level: zone.level,
            district: zone.district,
            street: zone.street,
            area: zone.area,
            effective_from: zone.effective_from,
            effective_until: zone.effective_until,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneList {
    pub snapshot: Snapshot,
    /// Zones in effect now.
    pub zones: Vec<ZoneView>,
}

fn in_effect(zone: &Zone, now: DateTime<Utc>) -> bool {
    zone.effective_from <= now && zone.effective_until.is_none_or(|until| now < until)
}

async fn zones_in_effect(
    state: &Core,
    district: Option<&str>,
    street: Option<&str>,
) -> Result<Vec<ZoneView>, SitesError> {
    let now = state.clock.now();
    let mut zones: Vec<ZoneView> = sites::zones(&state.store, district, street)
        .await?
        .into_iter()
        .filter(|z| in_effect(z, now))
        .map(ZoneView::from)
        .collect();
    zones.sort_by_key(|z| (z.level as u8, z.district.clone(), z.street.clone()));
    Ok(zones)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    pub district: String,
    pub street: String,
    /// Optional words of the address (小区, 楼栋) to match against the zones' area descriptions.
    pub area: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneCheck {
    /// The strictest level that applies, if any.
    pub level: Option<ZoneLevel>,
    pub rules: Option<&'static str>,
    /// The zones in effect in that street (those whose area matches `area`, when given).
    pub zones: Vec<ZoneView>,
}

/// Sampling sites with live status, filtered by district and street.
pub async fn sites(state: &Core, query: &PlaceQuery) -> Result<SiteList, SitesError> {
    let (district, street) = query.validated()?;
    let sites = sites::sites(&state.store, district, street).await?;
    Ok(SiteList {
        snapshot: snapshot(state, Kind::Sites).await?,
        sites,
    })
}

/// The districts and streets that have sampling sites.
pub async fn districts(state: &Core) -> Result<Vec<District>, SitesError> {
    let mut by_district: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for site in sites::sites(&state.store, None, None).await? {
        by_district
            .entry(site.district)
            .or_default()
            .insert(site.street);
    }
    Ok(by_district
        .into_iter()
        .map(|(district, streets)| District {
            district,
            streets: streets.into_iter().collect(),
        })
        .collect())
}

/// The sampling sites nearest to a point, open ones first among equals.
pub async fn nearest(state: &Core, query: &NearestQuery) -> Result<Vec<NearbySite>, SitesError> {
    if !(73.0..=136.0).contains(&query.lng) || !(3.0..=54.0).contains(&query.lat) {
        return Err(SitesError::InvalidCoordinates);
    }
    let limit = query.limit.unwrap_or(5);
    if !(1..=MAX_NEAREST).contains(&limit) {
        return Err(SitesError::InvalidLimit);
    }
    let mut nearby: Vec<NearbySite> = sites::sites(&state.store, None, None)
        .await?
        .into_iter()
        .map(|site| {
            let distance_m = distance_m(query.lng, query.lat, site.lng, site.lat).round() as u32;
            NearbySite::new(site, distance_m)
        })
        .collect();
    nearby.sort_by_key(|n| (n.distance_m, n.status as u8));
    nearby.truncate(limit);
    Ok(nearby)
}

/// The zones in effect now, by district and street.
pub async fn zones(state: &Core, query: &PlaceQuery) -> Result<ZoneList, SitesError> {
    let (district, street) = query.validated()?;
    let zones = zones_in_effect(state, district, street).await?;
    Ok(ZoneList {
        snapshot: snapshot(state, Kind::Zones).await?,
        zones,
    })
}

/// Whether a street (or an area of it) is in a zone now, and the strictest level.
pub async fn check(state: &Core, query: CheckQuery) -> Result<ZoneCheck, SitesError> {
    let place = PlaceQuery {
        district: Some(query.district),
        street: Some(query.street),
    };
    let (district, street) = place.validated()?;
    let (Some(district), Some(street)) = (district, street) else {
        return Err(SitesError::PlaceRequired);
    };
    let area = query
        .area
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let zones: Vec<ZoneView> = zones_in_effect(state, Some(district), Some(street))
        .await?
        .into_iter()
        .filter(|z| area.is_none_or(|a| z.area.contains(a) || a.contains(z.area.as_str())))
        .collect();
    let level = zones.iter().map(|z| z.level).min_by_key(|l| *l as u8);
    Ok(ZoneCheck {
        level,
        rules: level.map(rules),
        zones,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn distances() {
        // Futian to Nanshan civic centres: about 10.6 km.
        let d = super::distance_m(114.0595, 22.5431, 113.9304, 22.5333);
        assert!((13_000.0..13_600.0).contains(&d), "{d}");
        assert_eq!(super::distance_m(114.0, 22.5, 114.0, 22.5), 0.0);
    }

    #[test]
    fn places_are_a_district_then_a_street() {
        use super::{ApiError, PlaceQuery};
        let place = |district: Option<&str>, street: Option<&str>| PlaceQuery {
            district: district.map(Into::into),
            street: street.map(Into::into),
        };
        assert_eq!(
            place(Some(" 福田区 "), Some("华富街道"))
                .validated()
                .unwrap(),
            (Some("福田区"), Some("华富街道"))
        );
        assert_eq!(place(Some("  "), None).validated().unwrap(), (None, None));
        for (query, code) in [
            (place(None, Some("华富街道")), "district_required"),
            (place(Some("福田区#1"), None), "invalid_place"),
            (place(Some(&"区".repeat(21)), None), "invalid_place"),
        ] {
            let refused = ApiError::from(query.validated().unwrap_err());
            assert_eq!(
                (refused.status.as_u16(), refused.code.as_ref()),
                (400, code)
            );
        }
    }
}

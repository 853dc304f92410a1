// The manual's words for the API's codes.
import type { Schemas } from './api/client'

export const PCR_LABELS: Array<{ label: Schemas['PcrLabel']; text: string }> = [
  { label: '24h', text: '24小时' },
  { label: '48h', text: '48小时' },
  { label: '72h', text: '72小时' },
  { label: 'over_72h', text: '超72小时' },
  { label: 'never', text: '无检测记录' },
]

export function pcrLabelText(label: string): string {
  return PCR_LABELS.find((l) => l.label === label)?.text ?? label
}

export const SOURCES: Record<Schemas['Source'], string> = {
  roster: '社保名单',
  invited: '邀请加入',
  hand_added: '手动新增',
}

/** An instant in Shenzhen time, as people there read it. */
export function shenzhenTime(at: string | null | undefined): string {
  if (!at) return '—'
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).format(new Date(at))
}

/** A day in Shenzhen time, with its year (for dates a year or more away). */
export function shenzhenDate(at: string): string {
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
  }).format(new Date(at))
}

export const AUTHORIZATION_STATUS: Record<Schemas['EffectiveStatus'], string> = {
  pending: '待法定代表人审批',
  active: '已授权',
  rejected: '已拒绝',
  revoked: '已撤销',
  expired: '已过期',
  lapsed: '已失效',
}

export const VAX_STATES: Array<{ state: Schemas['VaxState']; text: string }> = [
  { state: 'unvaccinated', text: '未接种' },
  { state: 'partial', text: '未完成全程接种' },
  { state: 'primary_complete', text: '已完成全程接种' },
  { state: 'booster_eligible', text: '符合加强免疫' },
  { state: 'boosted', text: '完成加强免疫' },
]

export function vaxStateText(state: string): string {
  return VAX_STATES.find((s) => s.state === state)?.text ?? state
}

/** Today in Shenzhen, as a date input's value. */
export function shenzhenToday(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date())
}

/** The end of a Shenzhen calendar day (`YYYY-MM-DD`) as an instant; empty: none. */
export function endOfShenzhenDay(date: string): string | null {
  return date ? `${date}T23:59:59+08:00` : null
}

/** 证件类型, in the order the manual's forms list them. */
export const ID_TYPES: Array<{ value: Schemas['IdType']; text: string }> = [
  { value: 'resident_id', text: '居民身份证' },
  { value: 'hmt_residence_permit', text: '港澳台居民居住证' },
  { value: 'home_return_permit', text: '港澳居民来往内地通行证' },
  { value: 'taiwan_compatriot_permit', text: '台湾居民来往大陆通行证' },
  { value: 'foreign_permanent_residence', text: '外国人永久居留身份证' },
  { value: 'passport', text: '护照' },
]

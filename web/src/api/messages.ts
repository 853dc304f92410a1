// What people read when a call fails: the manual's language for the API's codes, saying what
// happened and what to do. A code not listed here shows the API's own message.
const MESSAGES: Record<string, string> = {
  network: '网络连接失败，请检查网络后重试',
  unauthenticated: '请先登录',
  token_expired: '登录已过期，请重新登录',
  unknown_enterprise: '未找到该企业，请核对企业全称',
  face_verification_required: '请先完成人脸识别认证，再进行操作',
  reason_required: '请填写申请原因',
  is_legal_rep: '您是该企业的法定代表人，无需申请授权',
  already_authorized: '您已获得该企业的授权',
  already_pending: '您的申请正在等待法定代表人审批',
  invalid_link: '链接无效，请向申请人索取新的链接',
  link_expired: '链接已过期，请申请人重新发送授权链接',
  link_used: '该链接已使用过，无需重复操作',
  unknown_link: '链接不存在或已撤销，请向申请人索取新的链接',
  legal_rep_only: '只有该企业的法定代表人可以处理此授权申请',
  application_decided: '该申请已处理',
  invitation_expired: '邀请已过期，请向企业经办人索取新的邀请',
  invitation_revoked: '邀请已被企业撤回，请向企业经办人索取新的邀请',
  invitation_inactive: '邀请已失效，请向企业经办人索取新的邀请',
  invalid_invitation: '邀请链接不完整或无效，请重新扫码或打开完整链接',
  notice_changed: '告知内容已更新，请重新阅读后再确认',
  not_authorized: '您没有该企业的授权，请先申请授权',
  rate_limited: '操作过于频繁，请稍后再试',
  unavailable: '服务暂时不可用，请稍后重试',
  timeout: '服务响应超时，请稍后重试',
  rekeying: '系统正在进行计划内的数据维护，暂时无法提交修改，查询不受影响；请稍后再试',
}

export function messageFor(code: string, apiMessage: string): string {
  return MESSAGES[code] ?? apiMessage
}

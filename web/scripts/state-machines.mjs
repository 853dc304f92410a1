// The state machines of template.yaml (sync, relabel, rekey, sunset) executed by a States
// Language engine (aws-local-stepfunctions), each Task state invoking the Lambdas' own handlers
// through the jobs bridge (tools/local/src/bin/jobs.rs), as Step Functions invokes the Lambdas:
//   node scripts/state-machines.mjs <definitions dir> <bridge URL>
// Every Task's first call fails with `Retryable` (a throttled Lambda), so each Retry is taken;
// Waits are skipped and the bridge's clock moved instead; a `Fatal` error must end in the
// machine's Fail state. Exits non-zero on the first expectation not met.
import { readFileSync } from 'node:fs'
import { StateMachine } from 'aws-local-stepfunctions'

// The engine wants Node 22's Promise.withResolvers; Debian's Node is 20.
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const [dir, bridge] = process.argv.slice(2)
const definition = (name) => JSON.parse(readFileSync(`${dir}/${name}.json`, 'utf8'))

function lambdaError(name, message) {
  const error = new Error(message)
  error.name = name
  return error
}

async function call(path, body) {
  const response = await fetch(`${bridge}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  })
  const answer = await response.json()
  if (!response.ok) throw lambdaError(answer.errorType, answer.errorMessage)
  return answer
}

// Local handlers for every Task state of `machine`, invoking `fn`; `fatal` names a state whose
// calls fail for good. Counts the calls and the injected retryable failures, and keeps each
// state's results.
function tasks(machine, fn, fatal) {
  const states = {}
  const collect = (all) => {
    for (const [name, state] of Object.entries(all)) {
      if (state.Type === 'Task') states[name] = state
      if (state.Type === 'Map') collect(state.ItemProcessor.States)
    }
  }
  collect(machine.States)
  const stats = { calls: 0, injected: 0, results: {} }
  const seen = new Set()
  const handlers = {}
  for (const name of Object.keys(states)) {
    handlers[name] = async (input) => {
      stats.calls += 1
      const key = `${name} ${JSON.stringify(input.Payload)}`
      if (!seen.has(key)) {
        seen.add(key)
        stats.injected += 1
        throw lambdaError('Retryable', 'injected: the first call of each step is throttled')
      }
      if (name === fatal) throw lambdaError('Fatal', 'injected: this step fails for good')
      const result = await call(fn, input.Payload)
      ;(stats.results[name] ??= []).push(result)
      // The Wait after it is skipped: the bridge's clock moves by what it would have waited.
      if (result.wait_seconds) await call(`tick?advance=${result.wait_seconds}`)
      return { Payload: result }
    }
  }
  const noPause = Object.fromEntries(Object.keys(states).map((name) => [name, 0]))
  return { handlers, noPause, stats }
}

async function execute(name, fn, input, fatal) {
  const machine = definition(name)
  const { handlers, noPause, stats } = tasks(machine, fn, fatal)
  const waits = Object.fromEntries(
    Object.entries(machine.States)
      .filter(([, s]) => s.Type === 'Wait')
      .map(([n]) => [n, 0]),
  )
  const execution = new StateMachine(machine).run(input, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: noPause },
  })
  try {
    return { output: await execution.result, stats }
  } catch (error) {
    return { error: error.cause ?? error, stats }
  }
}

function expect(condition, what, detail) {
  if (!condition) {
    console.error(`state machines: ${what}: ${JSON.stringify(detail)}`)
    process.exit(1)
  }
  console.log(`ok - ${what}`)
}

const sum = (results, field) => (results ?? []).reduce((total, r) => total + (field(r) ?? 0), 0)
const scheduled = { trigger: 'schedule (state machines test)', scheduled_time: new Date().toISOString() }

// The sync: a plan, then every feed's deliveries applied (each retried after a throttled call);
// run again, the plan finds nothing pending and nothing is applied twice.
const sync = await execute('SyncStateMachine', 'sync', scheduled)
const applied = sum(sync.stats.results.Apply, (r) => r.totals?.applied)
expect(sync.output && sync.stats.results.Apply?.length === 2, 'SyncStateMachine applies both pending deliveries', sync)
expect(applied === 2, 'their two lines are applied', { applied, results: sync.stats.results })
expect(sync.stats.injected >= 3, 'every sync step was retried after a throttled call', sync.stats)
const resync = await execute('SyncStateMachine', 'sync', scheduled)
expect(
  resync.output && resync.stats.results.Plan?.length === 1 && !resync.stats.results.Apply,
  'a second sync plans, finds nothing pending and applies nothing',
  resync,
)

// The relabel: all 16 shards in parallel, then labels_as_of recorded; the two persons the sync
// changed were due, and their memberships moved.
const shards = Array.from({ length: 16 }, (_, i) => i)
const relabel = await execute('RelabelStateMachine', 'relabel', { ...scheduled, shards })
const due = sum(relabel.stats.results.Relabel, (r) => r.persons_due)
expect(relabel.stats.results.Relabel?.length === 16, 'RelabelStateMachine relabels every shard', relabel.stats)
expect(due >= 2, 'the persons the sync changed were due', { due })
expect(relabel.output?.Payload?.as_of, 'its last step records labels_as_of', relabel.output)

// The re-key: begin, the wait, every segment rewritten, passes until one rewrites nothing.
const rekey = await execute('RekeyStateMachine', 'rekey', { segments: 4 })
expect(rekey.output?.plan?.settled === true, 'RekeyStateMachine settles the new key generation', rekey)
const last = rekey.output.plan.totals
expect(last.rewritten + last.moved === 0 && last.scanned > 0, 'its last pass found nothing left', last)
expect(rekey.stats.injected > 4, 'every step was retried after a throttled call', rekey.stats)
// Started again with no newer generation: begin fails for good, the Catch ends in Failed.
const again = await execute('RekeyStateMachine', 'rekey', {})
expect(again.error?.name === 'RekeyFailed', 'a second re-key without a new secret ends in RekeyFailed', again)

// The sunset: a segment that fails for good ends the execution in SunsetFailed; started again,
// it resumes and finishes, every item stamped.
const cut = await execute('SunsetStateMachine', 'sunset', { grace_days: 30, segments: 4 }, 'Stamp')
expect(cut.error?.name === 'SunsetFailed', 'a sunset step failing for good ends in SunsetFailed', cut)
const sunset = await execute('SunsetStateMachine', 'sunset', { grace_days: 30, segments: 4 })
const totals = sunset.output?.totals
expect(totals?.segments_done === 4 && totals.stamped > 0, 'SunsetStateMachine stamps every segment', sunset)
expect(totals.scanned === totals.stamped + totals.already, 'its counts balance', totals)

#!/usr/bin/env bash
# The state machines of template.yaml (sync, relabel, sunset, rekey) against the Amazon States Language
# schema, with asl-validator (web/'s npm packages): every definition is taken out of the template,
# its ${…} substitutions filled with a Lambda ARN of the right shape, and checked, paths included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/web_setup.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
.venv/bin/python - "$out" <<'PY'
import json, re, sys, yaml

class Template(yaml.SafeLoader):
    pass

# CloudFormation's short forms (!Ref, !Sub, !GetAtt, …) as plain values: only the definitions matter.
Template.add_multi_constructor("!", lambda loader, tag, node: loader.construct_scalar(node)
    if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)
    if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node))
doc = yaml.load(open("template.yaml"), Loader=Template)
arn = "arn:aws:lambda:ap-east-1:123456789012:function:placeholder"
found = 0
for name, resource in doc["Resources"].items():
    if resource["Type"] != "AWS::Serverless::StateMachine":
        continue
    text = re.sub(r"\$\{\w+\}", arn, json.dumps(resource["Properties"]["Definition"]))
    open(f"{sys.argv[1]}/{name}.json", "w").write(text)
    found += 1
assert found >= 4, f"only {found} state machines found"
PY
args=()
for definition in "$out"/*.json; do args+=(--json-path "$definition"); done
(cd web && npx --no-install asl-validator "${args[@]}")
echo "state machines valid: $(cd "$out" && ls | sed 's/\.json$//' | paste -sd ' ')"

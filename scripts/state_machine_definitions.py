"""Writes each state machine of template.yaml as `<dir>/<Name>.json`, its ${…} substitutions
filled with a Lambda ARN of the right shape (for asl_check.sh and state_machines.sh)."""
import json
import re
import sys

import yaml


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

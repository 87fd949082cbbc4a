"""Transform template.yaml with aws-sam-translator (offline) and lint the CloudFormation it
becomes with cfn-lint: cfn-lint on the raw SAM file misses some mistakes. Exit 1 on any error."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template uses SAM policy templates only; nothing to look up in IAM."""

    def load(self):
        return {}


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    sam = yaml_parse((root / "template.yaml").read_text())
    # `sam package` would upload each function's code and put its S3 address here.
    for name, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://runtype-artifacts/{name}.zip"
    cfn = transform(sam, {}, NoManagedPolicies())
    kinds = [r["Type"] for r in cfn["Resources"].values()]
    functions = kinds.count("AWS::Lambda::Function")
    print(f"check_template: transformed to {len(kinds)} resources, {functions} functions")
    for needed in ["AWS::ApiGatewayV2::Api", "AWS::Scheduler::Schedule", "AWS::DynamoDB::Table"]:
        if needed not in kinds:
            print(f"check_template: no {needed} after the transform")
            return 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(cfn, out)
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    lint = subprocess.run([str(cfn_lint), "--regions", "us-east-1", "--", out.name])
    # cfn-lint's exit code is a bit set: 2 = errors (warnings 4 and notes 8 pass)
    if lint.returncode & 2 or lint.returncode & 1:
        return 1
    print("check_template: cfn-lint found no errors in the transformed template")
    return 0


if __name__ == "__main__":
    sys.exit(main())

//! The deployment shape agrees with the code: the route table, the `HttpApi` events of
//! `template.yaml` and the crates under `functions/` name the same (method, path, function)
//! set, and the template's table is the one `store::definition::TABLE` describes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use runtype::router::{routes, Access};
use runtype::store::definition::TABLE;
use serde_yaml::Value;

crate::cases! {
    plain: [
        routes_template_and_function_crates_agree,
        the_scheduler_runs_every_minute_with_retries_and_a_dead_letter_queue,
        delivery_is_fed_by_the_stream_and_its_queue_with_narrow_policies,
        globals_and_outputs,
        the_table_is_the_one_in_code,
        alarms_watch_what_loses_work,
        the_dashboard_shows_the_services_metrics,
    ],
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

/// `!Ref X` (a tagged value) → "X".
fn reference(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().map(str::to_string),
        _ => None,
    }
}

fn functions(t: &Value) -> Vec<(String, &Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r))
        .collect()
}

fn crate_of(f: &Value) -> String {
    f["Properties"]["CodeUri"]
        .as_str()
        .unwrap()
        .trim_start_matches("./functions/")
        .to_string()
}

/// The guard every API function carries: no write to an account or platform-key item.
fn guarded(id: &str, statements: &[Value]) {
    let deny = statements
        .iter()
        .find(|s| s["Effect"] == "Deny")
        .unwrap_or_else(|| panic!("{id}: no Deny guard"));
    let actions: Vec<&str> = deny["Action"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for write in [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ] {
        assert!(actions.contains(&write), "{id}: the guard misses {write}");
    }
    let keys = &deny["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"];
    for prefix in ["ACCOUNT#*", "PLATFORMKEY#*", "PLATFORMKEYHASH#*"] {
        assert!(
            keys.as_sequence().unwrap().iter().any(|k| k == prefix),
            "{id}: the guard misses {prefix}"
        );
    }
}

/// The resources a statement names, as text (`Table.Arn`, `${Table.Arn}/index/GSI1`).
fn resources(s: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::Tagged(t) if t.tag == "!GetAtt" || t.tag == "!Sub" => {
            t.value.as_str().unwrap_or_default().to_string()
        }
        other => other.as_str().unwrap_or_default().to_string(),
    };
    match &s["Resource"] {
        Value::Sequence(list) => list.iter().map(one).collect(),
        v => vec![one(v)],
    }
}

/// An API function's policy: one Allow of only the table actions it needs — reads for GETs —
/// on the table and only the indexes it queries (never a Scan or a wildcard), and the guard.
fn api_policy(id: &str, function: &str, method: &str, f: &Value, gateway: bool) {
    let policies = f["Properties"]["Policies"].as_sequence().unwrap();
    assert_eq!(policies.len(), 1, "{id}");
    let statements = policies[0]["Statement"].as_sequence().unwrap();
    let secret_read = |s: &&Value| {
        s["Effect"] == "Allow"
            && s["Action"]
                .as_sequence()
                .is_some_and(|a| a.len() == 1 && a[0] == "secretsmanager:GetSecretValue")
    };
    if WAITS_WITH_THE_RUNNER.contains(&function) {
        // a waiting caller's attempt: the runner's secret, that one and no other
        let secret = statements
            .iter()
            .find(secret_read)
            .unwrap_or_else(|| panic!("{id}: no read of the runner's secret"));
        assert!(
            resources(secret)[0].ends_with(":secret:${RunnerSecretName}-??????"),
            "{id}"
        );
        assert_eq!(
            statements.len(),
            3,
            "{id}: an Allow, the secret and the guard"
        );
    } else {
        assert_eq!(statements.len(), 2, "{id}: an Allow and the guard");
    }
    guarded(id, statements);
    let allow = statements
        .iter()
        .find(|s| s["Effect"] == "Allow" && !secret_read(s))
        .unwrap();
    let reads: &[&str] = &["dynamodb:GetItem", "dynamodb:Query"];
    let writes: &[&str] = &[
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:BatchWriteItem",
    ];
    let allowed = if method == "GET" && !COUNTS_READS.contains(&function) {
        reads
    } else {
        writes
    };
    if COUNTS_READS.contains(&function) {
        // the key's read window is a counter updated with the read: without the action the
        // function would fail on AWS where the local stores cannot tell
        let actions = allow["Action"].as_sequence().unwrap();
        assert!(
            actions.iter().any(|a| a == "dynamodb:UpdateItem"),
            "{id}: counts reads without UpdateItem"
        );
    }
    for action in allow["Action"].as_sequence().unwrap() {
        let action = action.as_str().unwrap();
        assert!(allowed.contains(&action), "{id}: {action} is not needed");
        assert!(
            !action.contains('*') && !action.contains("Scan"),
            "{id}: {action}"
        );
    }
    let mut expected = vec!["Table.Arn".to_string()];
    if QUERY_GSI1.contains(&function) && !gateway {
        expected.push("${Table.Arn}/index/GSI1".into());
    }
    if QUERY_GSI2.contains(&function) {
        expected.push("${Table.Arn}/index/GSI2".into());
    }
    assert_eq!(
        resources(allow),
        expected,
        "{id}: the table and only the indexes it queries"
    );
}

/// Gateway functions that make a waiting caller's first attempt with the runner.
/// Gateway reads counted in the key's read window (`RUNTYPE_GATEWAY_READS_PER_MINUTE`).
const COUNTS_READS: &[&str] = &["describe-surface-api", "get-surface-execution"];
const WAITS_WITH_THE_RUNNER: &[&str] = &[
    "invoke-surface-endpoint",
    "invoke-surface-entry",
    "mcp",
    "a2a",
];

/// Functions that query GSI1 (the owner, executions and schedules indexes).
const QUERY_GSI1: &[&str] = &[
    "list-products",
    "list-surfaces",
    "list-executions",
    "list-all-schedules",
    "find-schedule",
    "list-schedule-runs",
    "get-schedule-stats",
    "delete-product",
    "delete-surface",
    "delete-schedule",
];

/// Functions that query GSI2 (the name indexes of products as code).
const QUERY_GSI2: &[&str] = &[
    "ensure-product",
    "pull-product",
    "ensure-surface",
    "pull-surface",
];

/// The functions that serve no route: the scheduler and delivery.
const WITHOUT_ROUTES: &[&str] = &["fire-schedules", "deliver-executions"];

/// `create-product` → `CREATE_PRODUCT`, the route's static in `router`.
fn route_static(function: &str) -> String {
    function.replace('-', "_").to_uppercase()
}

fn routes_template_and_function_crates_agree() {
    let t = template();
    let from_code: BTreeSet<(String, String, String)> = routes()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.function.to_string(),
            )
        })
        .collect();
    let mut from_template = BTreeSet::new();
    for (id, f) in functions(&t) {
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        let name = crate_of(f);
        if name == "deliver-executions" {
            // fed by event source mappings of its own (see the delivery test)
            assert!(f["Properties"]["Events"].is_null(), "{id}");
            continue;
        }
        let events = f["Properties"]["Events"].as_mapping().unwrap();
        // the MCP endpoint also takes the methods it answers 405 (a client probes GET)
        if let Some(other) = events.get("OtherMethods") {
            assert_eq!(
                name, "mcp",
                "{id}: only the MCP endpoint answers other methods"
            );
            let p = &other["Properties"];
            assert_eq!(p["Method"], "ANY", "{id}");
            assert_eq!(p["Path"], events["Api"]["Properties"]["Path"], "{id}");
        }
        let extra = usize::from(events.contains_key("OtherMethods"));
        assert_eq!(events.len(), 1 + extra, "{id} has one event");
        let event = events
            .get("Api")
            .or_else(|| events.iter().next().map(|(_, e)| e))
            .unwrap();
        if event["Type"] == "HttpApi" {
            let p = &event["Properties"];
            assert_eq!(reference(&p["ApiId"]).as_deref(), Some("HttpApi"), "{id}");
            let method = p["Method"].as_str().unwrap().to_string();
            let path = p["Path"]
                .as_str()
                .unwrap()
                .replace('{', ":")
                .replace('}', "");
            let gateway = routes().any(|r| r.function == name && r.access() == Access::SurfaceKey);
            api_policy(&id, &name, &method, f, gateway);
            from_template.insert((method, path, name));
        } else {
            assert_eq!(name, "fire-schedules", "{id}");
        }
    }
    assert_eq!(
        from_template, from_code,
        "template.yaml and the route table differ"
    );

    let mut crates = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name}: package named after its folder"
        );
        assert!(
            manifest.contains("build = \"../link.rs\""),
            "{name}: linked as the other functions are"
        );
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(
            main.lines().count() <= 15,
            "{name}: main stays a few lines of wiring"
        );
        if !WITHOUT_ROUTES.contains(&name.as_str()) {
            let route =
                runtype::router::route_of(&name).unwrap_or_else(|| panic!("{name} has no route"));
            let stat = route_static(route.function);
            assert!(
                main.contains(&format!("serve(&app, &runtype::router::{stat})")),
                "{name} serves its own route ({stat})"
            );
        }
        crates.insert(name);
    }
    let mut expected: BTreeSet<String> = from_code.iter().map(|(_, _, f)| f.clone()).collect();
    expected.extend(WITHOUT_ROUTES.iter().map(|f| f.to_string()));
    assert_eq!(crates, expected, "functions/ and the route table differ");
    let in_template: BTreeSet<String> = functions(&t).iter().map(|(_, f)| crate_of(f)).collect();
    assert_eq!(in_template, expected);
}

fn the_scheduler_runs_every_minute_with_retries_and_a_dead_letter_queue() {
    let t = template();
    let (_, f) = functions(&t)
        .into_iter()
        .find(|(_, f)| crate_of(f) == "fire-schedules")
        .unwrap();
    let events = f["Properties"]["Events"].as_mapping().unwrap();
    let (_, e) = events.iter().next().unwrap();
    assert_eq!(e["Type"], "ScheduleV2");
    assert_eq!(e["Properties"]["ScheduleExpression"], "rate(1 minute)");
    assert!(e["Properties"]["RetryPolicy"]["MaximumRetryAttempts"]
        .as_u64()
        .is_some());
    assert!(!e["Properties"]["DeadLetterConfig"].is_null());
    // its own statement: writes on the table, queries of the due index (GSI2), the guard
    let statements = f["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .unwrap();
    guarded("FireSchedulesFunction", statements);
    let allow = statements.iter().find(|s| s["Effect"] == "Allow").unwrap();
    assert_eq!(
        resources(allow),
        ["Table.Arn", "${Table.Arn}/index/GSI2"],
        "the table and the due index"
    );
    assert!(allow["Action"].as_sequence().unwrap().iter().all(|a| !a
        .as_str()
        .unwrap()
        .contains("Scan")
        && !a.as_str().unwrap().contains('*')));
    // passes do not pile up, and stop in time (the budget is the timeout less 10 s)
    let p = &f["Properties"];
    assert_eq!(
        reference(&p["ReservedConcurrentExecutions"]).as_deref(),
        Some("SchedulerReservedConcurrency")
    );
    assert_eq!(p["Timeout"], 60);
    assert_eq!(
        reference(&p["Environment"]["Variables"]["RUNTYPE_SCHEDULER_CONCURRENCY"]).as_deref(),
        Some("SchedulerConcurrency")
    );
}

/// `!GetAtt X.Y` → "X.Y".
fn getatt(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "!GetAtt" => t.value.as_str().map(str::to_string),
        _ => None,
    }
}

fn delivery_is_fed_by_the_stream_and_its_queue_with_narrow_policies() {
    let t = template();
    let r = &t["Resources"];
    assert_eq!(
        r["Table"]["Properties"]["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    let f = &r["DeliverExecutionsFunction"]["Properties"];
    assert_eq!(f["CodeUri"], "./functions/deliver-executions");
    let env = &f["Environment"]["Variables"];
    for (var, param) in [
        ("RUNTYPE_RUNNER", "Runner"),
        ("RUNTYPE_RUNNER_URL", "RunnerUrl"),
        ("RUNTYPE_RUNNER_SECRET_ID", "RunnerSecretName"),
        ("RUNTYPE_RUNNER_MAX_ATTEMPTS", "RunnerMaxAttempts"),
        ("RETRY_QUEUE_URL", "DeliveryRetryQueue"),
    ] {
        assert_eq!(reference(&env[var]).as_deref(), Some(param), "{var}");
    }
    // the secret comes from Secrets Manager, never from a variable
    assert!(env["RUNTYPE_RUNNER_TOKEN"].is_null() && env["RUNTYPE_WEBHOOK_SECRET"].is_null());

    let stream = &r["DeliveryStreamMapping"];
    assert_eq!(stream["Type"], "AWS::Lambda::EventSourceMapping");
    assert_eq!(stream["Condition"], "Delivering");
    let p = &stream["Properties"];
    assert_eq!(
        getatt(&p["EventSourceArn"]).as_deref(),
        Some("Table.StreamArn")
    );
    assert_eq!(
        reference(&p["FunctionName"]).as_deref(),
        Some("DeliverExecutionsFunction")
    );
    assert_eq!(p["BisectBatchOnFunctionError"], true);
    assert_eq!(p["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    assert_eq!(
        p["MaximumBatchingWindowInSeconds"], 0,
        "first attempts at once"
    );
    assert_eq!(
        getatt(&p["DestinationConfig"]["OnFailure"]["Destination"]).as_deref(),
        Some("DeliveryDeadLetterQueue.Arn")
    );
    let pattern: serde_json::Value = serde_json::from_str(
        p["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({ "eventName": ["INSERT"], "dynamodb": { "NewImage": { "type": { "S": ["execution"] } } } }),
        "new execution items only"
    );
    let queue = &r["DeliveryQueueMapping"]["Properties"];
    assert_eq!(
        getatt(&queue["EventSourceArn"]).as_deref(),
        Some("DeliveryRetryQueue.Arn")
    );
    assert_eq!(queue["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    let retry = &r["DeliveryRetryQueue"]["Properties"];
    assert_eq!(
        getatt(&retry["RedrivePolicy"]["deadLetterTargetArn"]).as_deref(),
        Some("DeliveryDeadLetterQueue.Arn")
    );
    assert!(
        retry["VisibilityTimeout"].as_u64().unwrap() >= f["Timeout"].as_u64().unwrap(),
        "a message stays hidden while the function works on it"
    );

    // what it may touch: executions and runs, the stream, its queues, the one secret
    let policies = f["Policies"].as_sequence().unwrap();
    assert_eq!(policies.len(), 1);
    for s in policies[0]["Statement"].as_sequence().unwrap() {
        assert_eq!(s["Effect"], "Allow");
        let actions: Vec<&str> = s["Action"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let resource = getatt(&s["Resource"]);
        match resource.as_deref() {
            Some("Table.Arn") => {
                assert_eq!(actions, ["dynamodb:GetItem", "dynamodb:PutItem"]);
                let keys = &s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
                assert_eq!(keys[0], "EXEC#*");
                assert_eq!(keys[1], "SCHEDULE#*");
            }
            Some("Table.StreamArn") => assert!(actions.iter().all(|a| a.starts_with("dynamodb:")
                && [
                    "DescribeStream",
                    "GetRecords",
                    "GetShardIterator",
                    "ListStreams"
                ]
                .contains(&&a[9..]))),
            Some("DeliveryRetryQueue.Arn") => {
                assert!(actions.iter().all(|a| a.starts_with("sqs:")))
            }
            Some("DeliveryDeadLetterQueue.Arn") => assert_eq!(actions, ["sqs:SendMessage"]),
            None => {
                assert_eq!(actions, ["secretsmanager:GetSecretValue"]);
                let arn = match &s["Resource"] {
                    Value::Tagged(t) if t.tag == "!Sub" => t.value.as_str().unwrap().to_string(),
                    other => panic!("the secret's ARN: {other:?}"),
                };
                assert!(arn.ends_with(":secret:${RunnerSecretName}-??????"), "{arn}");
            }
            Some(other) => panic!("deliver-executions may not touch {other}"),
        }
        assert!(!actions.iter().any(|a| a.contains('*')), "{actions:?}");
    }
}

fn globals_and_outputs() {
    let t = template();
    let g = &t["Globals"]["Function"];
    assert_eq!(g["Runtime"], "provided.al2023");
    assert_eq!(g["Handler"], "bootstrap");
    assert_eq!(g["Architectures"][0], "arm64");
    assert!(g["MemorySize"].as_u64().is_some() && g["Timeout"].as_u64().is_some());
    let env = &g["Environment"]["Variables"];
    assert_eq!(reference(&env["TABLE_NAME"]).as_deref(), Some("Table"));
    for (var, param) in [
        ("RUNTYPE_PUBLIC_URL", "PublicBaseUrl"),
        ("RUNTYPE_JWT_ISSUER", "JwtIssuer"),
        ("RUNTYPE_JWKS_URL", "JwksUrl"),
        ("RUNTYPE_LOG_LEVEL", "LogLevel"),
        ("RUNTYPE_FLOW_ALLOWLIST", "FlowAllowlist"),
    ] {
        assert_eq!(reference(&env[var]).as_deref(), Some(param), "{var}");
        assert!(!t["Parameters"][param].is_null(), "{param}");
    }
    assert!(!t["Parameters"]["Stage"].is_null());
    assert!(!t["Outputs"]["ApiUrl"].is_null());
    assert_eq!(
        reference(&t["Outputs"]["TableName"]["Value"]).as_deref(),
        Some("Table")
    );
    assert_eq!(
        t["Resources"]["HttpApi"]["Type"],
        "AWS::Serverless::HttpApi"
    );
    // throttling before any function, an access log without headers, logs kept a while
    let api = &t["Resources"]["HttpApi"]["Properties"];
    let route = &api["DefaultRouteSettings"];
    assert_eq!(
        reference(&route["ThrottlingBurstLimit"]).as_deref(),
        Some("ApiThrottleBurst")
    );
    assert_eq!(
        reference(&route["ThrottlingRateLimit"]).as_deref(),
        Some("ApiThrottleRate")
    );
    let log = &api["AccessLogSettings"];
    assert_eq!(
        getatt(&log["DestinationArn"]).as_deref(),
        Some("ApiAccessLogs.Arn")
    );
    let format = log["Format"].as_str().unwrap().to_lowercase();
    assert!(
        !format.contains("header") && !format.contains("authorization") && !format.contains("body"),
        "{format}"
    );
    assert_eq!(
        reference(&g["LoggingConfig"]["LogGroup"]).as_deref(),
        Some("FunctionLogs")
    );
    for group in ["ApiAccessLogs", "FunctionLogs"] {
        let r = &t["Resources"][group];
        assert_eq!(r["Type"], "AWS::Logs::LogGroup", "{group}");
        assert_eq!(
            reference(&r["Properties"]["RetentionInDays"]).as_deref(),
            Some("LogRetentionDays"),
            "{group}"
        );
    }
}

fn the_table_is_the_one_in_code() {
    let t = template();
    let table = &t["Resources"]["Table"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    let key_schema = |ks: &Value| -> Vec<(String, String)> {
        ks.as_sequence()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_string(),
                    k["KeyType"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let hash_range = |pk: &str, sk: &str| {
        vec![
            (pk.to_string(), "HASH".to_string()),
            (sk.to_string(), "RANGE".to_string()),
        ]
    };
    assert_eq!(
        key_schema(&p["KeySchema"]),
        hash_range(TABLE.partition_key, TABLE.sort_key)
    );
    let indexes = p["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(indexes.len(), TABLE.indexes.len());
    let mut attributes =
        BTreeSet::from([TABLE.partition_key.to_string(), TABLE.sort_key.to_string()]);
    for ((name, pk, sk), index) in TABLE.indexes.iter().zip(indexes) {
        assert_eq!(index["IndexName"], *name);
        assert_eq!(key_schema(&index["KeySchema"]), hash_range(pk, sk));
        assert_eq!(index["Projection"]["ProjectionType"], "ALL");
        attributes.insert(pk.to_string());
        attributes.insert(sk.to_string());
    }
    let defined: BTreeSet<String> = p["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["AttributeType"], "S");
            a["AttributeName"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(defined, attributes);
    assert_eq!(
        p["TimeToLiveSpecification"]["AttributeName"],
        TABLE.ttl_attribute
    );
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert!(p["StreamSpecification"]["StreamViewType"]
        .as_str()
        .is_some());
}

/// An alarm as pinned: its id, namespace, metric, dimension (name, what it names) and
/// statistic.
type Pinned<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<(&'a str, &'a str)>,
    &'a str,
);

/// A tagged value's text (`!GetAtt X.Y` → "X.Y", `!Sub "…"` → "…").
fn tagged(v: &Value, tag: &str) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == tag => t.value.as_str().map(str::to_string),
        _ => None,
    }
}

/// Every alarm (README "Operating it") is pinned to its metric, statistic and threshold, and
/// tells the alarm topic; the topic takes the optional address; the functions log JSON under
/// the stack's metrics namespace.
fn alarms_watch_what_loses_work() {
    let t = template();
    let r = &t["Resources"];
    let ours = "Runtype/${AWS::StackName}";
    // (alarm, namespace, metric, dimension name → what it names, statistic)
    let expected: &[Pinned] = &[
        (
            "SchedulerDeadLetterAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            Some(("QueueName", "SchedulerDeadLetterQueue.QueueName")),
            "Maximum",
        ),
        (
            "DeliveryDeadLetterAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            Some(("QueueName", "DeliveryDeadLetterQueue.QueueName")),
            "Maximum",
        ),
        (
            "DeliveryFailuresAlarm",
            ours,
            "DeliveryAttemptsFailed",
            None,
            "Sum",
        ),
        (
            "RunnerReportTimeoutsAlarm",
            ours,
            "RunnerReportsTimedOut",
            None,
            "Sum",
        ),
        (
            "SchedulerFallingBehindAlarm",
            ours,
            "SchedulerDeferred",
            None,
            "Sum",
        ),
        (
            "Api5xxAlarm",
            "AWS/ApiGateway",
            "5xx",
            Some(("ApiId", "HttpApi")),
            "Sum",
        ),
        (
            "SchedulerErrorsAlarm",
            "AWS/Lambda",
            "Errors",
            Some(("FunctionName", "FireSchedulesFunction")),
            "Sum",
        ),
        (
            "SchedulerThrottlesAlarm",
            "AWS/Lambda",
            "Throttles",
            Some(("FunctionName", "FireSchedulesFunction")),
            "Sum",
        ),
        (
            "DeliveryErrorsAlarm",
            "AWS/Lambda",
            "Errors",
            Some(("FunctionName", "DeliverExecutionsFunction")),
            "Sum",
        ),
        (
            "DeliveryThrottlesAlarm",
            "AWS/Lambda",
            "Throttles",
            Some(("FunctionName", "DeliverExecutionsFunction")),
            "Sum",
        ),
    ];
    let alarms: Vec<&str> = r
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, v)| v["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(
        alarms.len(),
        expected.len(),
        "every alarm is pinned here: {alarms:?}"
    );
    let emf_names: Vec<String> = emf_names();
    for (id, namespace, metric, dimension, stat) in expected {
        let p = &r[*id]["Properties"];
        assert_eq!(r[*id]["Type"], "AWS::CloudWatch::Alarm", "{id}");
        let ns = p["Namespace"]
            .as_str()
            .map(str::to_string)
            .or_else(|| tagged(&p["Namespace"], "!Sub"));
        assert_eq!(ns.as_deref(), Some(*namespace), "{id}");
        assert_eq!(p["MetricName"], *metric, "{id}");
        if *namespace == ours {
            assert!(
                emf_names.iter().any(|n| n == metric),
                "{id}: {metric} is a metric the code writes"
            );
        }
        assert_eq!(p["Statistic"], *stat, "{id}");
        assert_eq!(p["Threshold"].as_f64(), Some(0.0), "{id}");
        assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold", "{id}");
        assert_eq!(p["TreatMissingData"], "notBreaching", "{id}");
        match dimension {
            None => assert!(p["Dimensions"].is_null(), "{id}: the whole stack's figure"),
            Some((name, of)) => {
                let d = &p["Dimensions"][0];
                assert_eq!(d["Name"], *name, "{id}");
                let named = reference(&d["Value"]).or_else(|| tagged(&d["Value"], "!GetAtt"));
                assert_eq!(named.as_deref(), Some(*of), "{id}");
            }
        }
        for actions in ["AlarmActions", "OKActions"] {
            let a = p[actions].as_sequence().unwrap();
            assert_eq!(a.len(), 1, "{id}");
            assert_eq!(reference(&a[0]).as_deref(), Some("AlarmTopic"), "{id}");
        }
    }
    // every dead-letter queue is watched
    for (id, q) in r.as_mapping().unwrap() {
        let id = id.as_str().unwrap();
        if q["Type"] == "AWS::SQS::Queue" && id.contains("DeadLetter") {
            let watched = expected
                .iter()
                .any(|(_, _, _, d, _)| d.is_some_and(|(_, of)| of == format!("{id}.QueueName")));
            assert!(watched, "{id} has an alarm on its depth");
        }
    }
    assert_eq!(r["AlarmTopic"]["Type"], "AWS::SNS::Topic");
    let sub = &r["AlarmEmailSubscription"];
    assert_eq!(sub["Condition"], "AlarmByEmail");
    assert_eq!(sub["Properties"]["Protocol"], "email");
    assert_eq!(
        reference(&sub["Properties"]["Endpoint"]).as_deref(),
        Some("AlarmEmail")
    );
    assert_eq!(t["Parameters"]["AlarmEmail"]["Default"], "");
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["LoggingConfig"]["LogFormat"], "JSON");
    assert_eq!(
        tagged(
            &globals["Environment"]["Variables"]["RUNTYPE_METRICS_NAMESPACE"],
            "!Sub"
        )
        .as_deref(),
        Some(ours)
    );
    let logs = reference(&globals["LoggingConfig"]["LogGroup"]).unwrap();
    assert!(r[logs.as_str()]["Properties"]["RetentionInDays"].is_tagged_or_number());
}

trait TaggedOrNumber {
    fn is_tagged_or_number(&self) -> bool;
}

impl TaggedOrNumber for Value {
    fn is_tagged_or_number(&self) -> bool {
        matches!(self, Value::Tagged(_) | Value::Number(_))
    }
}

/// The CloudWatch names the code writes (each family's, and each label value's).
fn emf_names() -> Vec<String> {
    let mut names = Vec::new();
    for f in runtype::metrics::FAMILIES {
        match f.label {
            None => names.push(f.emf.to_string()),
            Some((_, values)) => {
                for v in values.iter() {
                    let camel: String = v
                        .split('_')
                        .map(|w| w[..1].to_uppercase() + &w[1..])
                        .collect();
                    names.push(format!("{}{camel}", f.emf));
                }
            }
        }
    }
    names
}

/// One dashboard, with the gateway, delivery, scheduler and API panels, naming only metrics
/// the code writes.
fn the_dashboard_shows_the_services_metrics() {
    let t = template();
    let dashboards: Vec<&Value> = t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|v| v["Type"] == "AWS::CloudWatch::Dashboard")
        .collect();
    assert_eq!(dashboards.len(), 1);
    let body = match &dashboards[0]["Properties"]["DashboardBody"] {
        Value::Tagged(tag) if tag.tag == "!Sub" => tag.value[0].as_str().unwrap().to_string(),
        other => panic!("DashboardBody is a !Sub: {other:?}"),
    };
    // the placeholders aside, it is JSON
    let json_text = body
        .replace("${AWS::Region}", "us-east-1")
        .replace("${Namespace}", "Runtype/stack")
        .replace("${HttpApi}", "api")
        .replace("${SchedulerDlq}", "q1")
        .replace("${DeliveryDlq}", "q2");
    let dash: serde_json::Value = serde_json::from_str(&json_text).expect("the dashboard is JSON");
    let widgets = dash["widgets"].as_array().unwrap();
    let titles: Vec<&str> = widgets
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    for panel in ["Gateway", "deliveries", "Scheduler", "HTTP API"] {
        assert!(
            titles.iter().any(|t| t.contains(panel)),
            "a {panel} panel: {titles:?}"
        );
    }
    let ours = emf_names();
    let mut named = 0;
    for w in widgets {
        // ["namespace", "metric", …], "." repeating the namespace above, "..." the whole line
        let mut namespace = String::new();
        for m in w["properties"]["metrics"].as_array().unwrap() {
            let m = m.as_array().unwrap();
            match m[0].as_str().unwrap() {
                "..." => continue,
                "." => {}
                ns => namespace = ns.to_string(),
            }
            if namespace == "Runtype/stack" {
                let name = m[1].as_str().unwrap();
                assert!(
                    ours.iter().any(|n| n == name),
                    "{name} is a metric the code writes"
                );
                named += 1;
            }
        }
    }
    assert!(
        named >= 20,
        "the panels show the service's own metrics: {named}"
    );
}

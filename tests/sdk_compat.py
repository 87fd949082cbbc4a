"""Drive a running `runtype serve` through Runtype's official Python SDK (runtype-sdk 5.5.0)
across every endpoint we implement that the SDK has. Each call must come back as a parsed
model: a response the SDK cannot parse raises, and fails the run.

    python tests/sdk_compat.py BASE_URL PLATFORM_KEY
"""

import datetime
import sys

from runtype import RuntypeApi


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main(base_url: str, key: str) -> int:
    bearer = f"Bearer {key}"
    api = RuntypeApi(base_url=base_url, authorization=bearer, api_key=bearer, max_retries=0)
    p = api.products
    calls = 0

    def done(result, model_name):
        nonlocal calls
        calls += 1
        check(type(result).__name__ == model_name, f"expected {model_name}, got {type(result).__name__}")
        return result

    product = done(p.create_product(name="SDK product", description="made by the SDK", canvas={"a": 1}), "PostV1ProductsResponse")
    pid = product.id
    check(product.capabilities == [] and product.surfaces == [], "new product has no children")
    updated = done(p.update_product(pid, name="SDK product 2", spec={"v": 1}), "PutV1ProductsIdResponse")
    check(updated.name == "SDK product 2", "update_product renamed")
    listed = done(p.list_products(limit=5, search="sdk"), "GetV1ProductsResponse")
    check(any(item.id == pid for item in listed.data), "list_products finds it")
    check(listed.pagination.limit == 5, "pagination parsed")

    cap = done(p.add_capability_to_product(pid, capability_name="Answer questions", flow_id="flow_1",
                                           parameters_schema={"type": "object"}), "PostV1ProductsIdCapabilitiesResponse")
    cap2 = done(p.add_capability_to_product(pid, capability_name="Summarise", agent_id="agent_1"),
                "PostV1ProductsIdCapabilitiesResponse")
    cap = done(p.update_capability(pid, cap.id, capability_description="answers", refresh_schema=True),
               "PutV1ProductsIdCapabilitiesCapabilityIdResponse")
    check(cap.capability_description == "answers", "update_capability")

    surface = done(p.create_surface(pid, name="Public API", type="api", config={"rateLimit": {"perMinute": 60}}),
                   "PostV1ProductsIdSurfacesResponse")
    sid = surface.id
    check(surface.endpoint and surface.endpoint.endswith(f"/surfaces/{sid}/api"), "api endpoint")
    surface = done(p.update_surface(pid, sid, behavior={"tone": "friendly"}, status="active"), "PutV1ProductsIdSurfacesSurfaceIdResponse")
    surfaces = done(p.list_surfaces(pid, type="api"), "GetV1ProductsIdSurfacesResponse")
    check(len(surfaces.data) == 1, "list_surfaces")

    item = done(p.add_item_to_surface(pid, sid, capability_id=cap.id, exposed_name="ask"), "PostV1ProductsIdSurfacesSurfaceIdItemsResponse")
    check(item.endpoint_slug == "answer-questions", "default slug")
    item2 = done(p.add_item_to_surface(pid, sid, capability_id=cap2.id, presentation={
        "displayLabel": "Summary", "displayMode": "form", "route": "/summary"}), "PostV1ProductsIdSurfacesSurfaceIdItemsResponse")
    item = done(p.update_surface_item(pid, sid, item.id, config={"x": 1}, enabled=False),
                "PutV1ProductsIdSurfacesSurfaceIdItemsItemIdResponse")

    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)).isoformat()
    key = done(p.create_surface_api_key(pid, sid, name="Primary", scopes=["ask"], environment="production",
                                        rate_limit_per_minute=100, expires_at=expires), "PostV1ProductsIdSurfacesSurfaceIdKeysResponse")
    check(key.key.startswith("papi_live_"), "key format")
    check(key.scope_target_ids == [item.id], "scopes resolved")
    details = done(p.get_surface_details(pid, sid), "GetV1ProductsIdSurfacesSurfaceIdResponse")
    check(len(details.items) == 2 and len(details.keys) == 1 and len(details.scope_targets) == 2, "surface details")
    check(details.keys[0].can_reveal is False, "keys are never revealed")
    check(details.items[0].capability_name == "Answer questions", "items carry their capability")
    done(p.get_product_details(pid), "GetV1ProductsIdResponse")

    sched_surface = done(p.create_surface(pid, name="Nightly", type="schedule"), "PostV1ProductsIdSurfacesResponse")
    ssid = sched_surface.id
    sched = done(p.create_schedule_for_surface(pid, ssid, flow_id="flow_1", trigger_type="recurring", cron="0 9 * * MON-FRI",
                                               timezone="America/New_York", record_ids=["a", "b"],
                                               execution_options={"chunkSize": 10, "loggingPolicy": "off"},
                                               record_filter={"type": "customer", "where": {"field": "plan", "op": "eq", "value": "pro"}}),
                 "PostV1ProductsIdSurfacesSurfaceIdSchedulesResponse")
    check(sched.next_run_at is not None, "nextRunAt computed")
    run_at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=3)).isoformat()
    one = done(p.create_schedule_for_surface(pid, ssid, flow_id="flow_2", trigger_type="one_time", run_at=run_at),
               "PostV1ProductsIdSurfacesSurfaceIdSchedulesResponse")
    done(p.update_schedule(pid, ssid, sched.id, cron="30 8 * * *"), "PutV1ProductsIdSurfacesSurfaceIdSchedulesScheduleIdResponse")
    done(p.list_schedules_for_surface(pid, ssid), "GetV1ProductsIdSurfacesSurfaceIdSchedulesResponse")
    paused = done(p.pause_schedule(pid, ssid, sched.id), "PostV1ProductsIdSurfacesSurfaceIdSchedulesScheduleIdPauseResponse")
    check(paused.status == "paused", "paused")
    resumed = done(p.resume_schedule(pid, ssid, sched.id), "PostV1ProductsIdSurfacesSurfaceIdSchedulesScheduleIdResumeResponse")
    check(resumed.status == "active", "resumed")
    ran = done(p.run_schedule_immediately(pid, ssid, sched.id), "PostV1ProductsIdSurfacesSurfaceIdSchedulesScheduleIdRunNowResponse")
    check(ran.record_count == 2 and ran.status == "queued", "run now")
    got = done(p.get_schedule_details(pid, ssid, sched.id), "GetV1ProductsIdSurfacesSurfaceIdSchedulesScheduleIdResponse")
    check(len(got.recent_runs) == 1 and got.recent_runs[0].batch_execution_id == ran.batch_execution_id, "recent runs")

    # the owner-wide read side (api.schedules)
    s = api.schedules
    all_schedules = done(s.list_schedules(limit="5", status="active"), "GetV1SchedulesResponse")
    check(any(x.id == sched.id for x in all_schedules.data), "list_schedules finds it")
    done(s.list_schedules(search="no such name"), "GetV1SchedulesResponse")
    found = done(s.get_a_schedule(sched.id), "GetV1SchedulesIdResponse")
    check(found.id == sched.id and found.product_surface_id == ssid, "get_a_schedule")
    runs = done(s.list_runs_for_a_schedule(sched.id), "GetV1SchedulesIdRunsResponse")
    check(len(runs.data) == 1 and runs.data[0].schedule_id == sched.id, "list_runs_for_a_schedule")
    stats = done(s.get_schedule_statistics(sched.id), "GetV1SchedulesIdStatsResponse")
    check(stats.total == 1 and len(stats.last7days) == 7 and stats.last7days[-1].runs == 1, "stats")

    done(p.delete_schedule(pid, ssid, one.id), "DeleteV1ProductsIdSurfacesSurfaceIdSchedulesScheduleIdResponse")
    done(p.delete_surface_api_key(pid, sid, key.id), "DeleteV1ProductsIdSurfacesSurfaceIdKeysKeyIdResponse")
    done(p.remove_surface_item(pid, sid, item2.id), "DeleteV1ProductsIdSurfacesSurfaceIdItemsItemIdResponse")
    done(p.remove_capability(pid, cap2.id), "DeleteV1ProductsIdCapabilitiesCapabilityIdResponse")
    done(p.delete_surface(pid, ssid), "DeleteV1ProductsIdSurfacesSurfaceIdResponse")
    done(p.delete_product(pid), "DeleteV1ProductsIdResponse")

    # products as code, as a CI job calls it: probe with the hash, send the definition when
    # asked, a dry run bound to the remote hash as a drift gate
    from runtype._generated.core.api_error import ApiError

    name = "SDK as code"
    definition = {"name": name, "description": "converged from a repository", "spec": {"version": 1}}
    asked = done(p.ensure_product_config_as_code_converge(name=name, content_hash="0" * 64), "ProductEnsureResponseOne")
    check(asked.result == "definitionRequired", "a probe of a new name asks for the definition")
    created = done(p.ensure_product_config_as_code_converge(name=name, definition=definition), "ProductEnsureResponseZero")
    check(created.result == "created" and len(created.content_hash) == 64, "ensure created")
    same = done(p.ensure_product_config_as_code_converge(name=name, content_hash=created.content_hash), "ProductEnsureResponseZero")
    check(same.result == "unchanged" and same.product_id == created.product_id, "the probe hits")
    planned = done(p.ensure_product_config_as_code_converge(
        name=name, definition={**definition, "icon": "rocket"}, dry_run=True, expected_remote_hash=created.content_hash),
        "ProductEnsureResponseChangedKeys")
    check(planned.result == "plan" and planned.changes == "update" and planned.changed_keys == ["icon"], "a dry run plans")
    pulled = done(p.pull_product_definition_config_as_code(name=name), "ProductPullResponse")
    check(pulled.content_hash == created.content_hash and pulled.last_modified_source == "ensure", "pull")
    check(pulled.definition.name == name and pulled.definition.description == definition["description"], "pulled definition")
    surface_def = {"name": "Docs chat", "type": "chat", "status": "active", "environment": "development"}
    s_created = done(p.ensure_surface_config_as_code_converge(created.product_id, name="Docs chat", definition=surface_def),
                     "SurfaceEnsureResponseZero")
    check(s_created.result == "created", "surface ensure created")
    s_pulled = done(p.pull_surface_definition_config_as_code(created.product_id, name="Docs chat"), "SurfacePullResponse")
    check(s_pulled.surface_id == s_created.surface_id and s_pulled.content_hash == s_created.content_hash, "surface pull")
    # an edit through the ordinary endpoint: converging over it is a 409 the SDK raises
    done(p.update_product(created.product_id, description="edited by hand"), "PutV1ProductsIdResponse")
    try:
        p.ensure_product_config_as_code_converge(name=name, definition=definition)
        raise AssertionError("converging over an external edit should be refused")
    except ApiError as e:
        check(e.status_code == 409 and e.body["code"] == "external_modification", f"external_modification: {e.body}")
    done(p.delete_product(created.product_id), "DeleteV1ProductsIdResponse")
    print(f"sdk_compat: {calls} SDK calls parsed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

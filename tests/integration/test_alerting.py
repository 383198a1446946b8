"""Alerting end to end: rules evaluated by the real binary, notifications delivered to
local sinks (webhook, Slack, PagerDuty over HTTP; email over SMTP), alerts forwarded to a
real Alertmanager, silences and run-time rules through the APIs. The notifier is configured
by the `notify:` section of Vigil's config, with notification templates (a `templates:`
file and template fields), and `global.external_labels` are added to every alert; the
configuration is reloaded with SIGHUP and POST /-/reload, and a bad one is refused.

Logs the alert latency (threshold crossed in the data -> webhook received) and the
notifier's own figure (vigil_alert_first_notification_delay_seconds); it is a logged
figure, not a timed assertion (bench/alert_latency.py measures it over many trials).
"""
import email
import email.policy
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from vigil_testlib import Server, free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
try:
    from aiosmtpd.controller import Controller  # Debian's python3-aiosmtpd
except ImportError:  # pragma: no cover
    Controller = None


class Sink:
    """A local HTTP server that records every POST (path, json body, arrival time)."""

    def __init__(self):
        self.posts = []
        self.cv = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink.cv:
                    sink.posts.append((self.path, json.loads(body), time.time()))
                    sink.cv.notify_all()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, pred, timeout=30, since=0):
        deadline = time.time() + timeout
        with self.cv:
            while True:
                hits = [p for p in self.posts[since:] if pred(p)]
                if hits:
                    return hits
                left = deadline - time.time()
                if left <= 0:
                    return []
                self.cv.wait(left)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class MailSink:
    def __init__(self):
        self.messages = []
        self.port = free_port()
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append((envelope.mail_from, envelope.rcpt_tos,
                                       envelope.content.decode(errors="replace"), time.time()))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self):
        self.controller.stop()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class AlertingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vigil-alerting-")
        cls.sink = Sink()
        cls.mail = MailSink() if Controller else None
        cls.am = None
        am_targets = []
        if ALERTMANAGER:
            cls.am_port = free_port()
            am_dir = os.path.join(cls.tmp.name, "am")
            os.makedirs(am_dir)
            write(os.path.join(am_dir, "am.yml"),
                  "route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n")
            cls.am_log = open(os.path.join(cls.tmp.name, "am.log"), "wb")
            cls.am = subprocess.Popen(
                [ALERTMANAGER, f"--config.file={am_dir}/am.yml", f"--storage.path={am_dir}",
                 f"--web.listen-address=127.0.0.1:{cls.am_port}", "--cluster.listen-address="],
                stdout=cls.am_log, stderr=subprocess.STDOUT)
            am_targets = [f"127.0.0.1:{cls.am_port}"]
        conf = os.path.join(cls.tmp.name, "conf")
        cls.conf = conf
        os.makedirs(os.path.join(conf, "tmpl"))
        write(os.path.join(conf, "rules.yml"), """
groups:
  - name: test
    interval: 1s
    rules:
      - record: job:test_value:max
        expr: max by (job) (test_value)
      - alert: ValueHigh
        expr: test_value > 10
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.instance }} is at {{ $value | humanize }} in {{ $externalLabels.cluster }}"
""")
        write(os.path.join(conf, "tmpl", "custom.tmpl"),
              '{{ define "vigil.title" }}{{ .Status | toUpper }}: {{ .CommonLabels.alertname }} '
              '({{ len .Alerts.Firing }} firing) in {{ .CommonLabels.cluster }}{{ end }}\n')
        cls.alerting = ""
        if am_targets:
            cls.alerting = ("alerting:\n  alertmanagers:\n    - static_configs:\n"
                            f"        - targets: ['{am_targets[0]}']\n")
        cls.write_config()
        cls.data = os.path.join(cls.tmp.name, "data")
        cls.args = [f"--config.file={conf}/prometheus.yml", "--web.external-url=http://vigil.example"]
        cls.server = Server(data_dir=cls.data, args=cls.args).start()

    @classmethod
    def write_config(cls, slack_title='{{ template "vigil.title" . }}'):
        smtp = ""
        if cls.mail:
            smtp = (f"      email_configs:\n"
                    f"        - {{to: 'ops@example.org', from: 'vigil@example.org', "
                    f"smarthost: '127.0.0.1:{cls.mail.port}', require_tls: false, send_resolved: true,\n"
                    f"           headers: {{Subject: '{{{{ template \"__subject\" . }}}} [{{{{ .CommonLabels.cluster }}}}]'}}}}\n")
        s = cls.sink.port
        write(os.path.join(cls.conf, "prometheus.yml"), f"""global:
  evaluation_interval: 1s
  external_labels: {{cluster: eu1, severity: overridden}}
rule_files: ['rules.yml']
{cls.alerting}notify:
  templates: ['tmpl/*.tmpl']
  route:
    receiver: all
    group_by: [alertname]
    group_wait: 200ms
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: all
      webhook_configs: [{{url: 'http://127.0.0.1:{s}/hook'}}]
      slack_configs:
        - api_url: 'http://127.0.0.1:{s}/slack'
          channel: '#ops'
          send_resolved: true
          title: '{slack_title}'
          text: '{{{{ range .Alerts }}}}{{{{ .Labels.instance }}}}: {{{{ .Annotations.summary }}}};{{{{ end }}}}'
      pagerduty_configs:
        - routing_key: 'key123'
          url: 'http://127.0.0.1:{s}/pd'
          description: '{{{{ .CommonLabels.alertname }}}} in {{{{ .CommonLabels.cluster }}}}'
          details: {{owner: '{{{{ .CommonLabels.severity | toUpper }}}}'}}
{smtp}""")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        if cls.am:
            cls.am.send_signal(signal.SIGTERM)
            cls.am.wait(30)
            cls.am_log.close()
        if cls.mail:
            cls.mail.close()
        cls.sink.close()
        cls.tmp.cleanup()

    def push(self, value, instance="i1"):
        now = int(time.time() * 1000)
        st, body = self.server.remote_write(
            [({"__name__": "test_value", "job": "j", "instance": instance}, [(now, value)])])
        self.assertIn(st, (200, 204), body)

    def test_1_fires_notifies_everywhere_and_resolves(self):
        self.push(5)
        time.sleep(1.5)
        self.assertEqual(self.sink.wait(lambda p: True, timeout=0.1), [])
        t0 = time.time()
        self.push(42)
        hooks = self.sink.wait(lambda p: p[0] == "/hook" and p[1]["status"] == "firing")
        self.assertTrue(hooks, f"no webhook; log:\n{self.server.log()}")
        latency = hooks[0][2] - t0
        print(f"\nalert latency (threshold crossed -> webhook received): {latency * 1000:.0f} ms "
              f"(bound: evaluation interval 1s + group_wait 200ms = 1200 ms)")
        body = hooks[0][1]
        self.assertEqual(body["version"], "4")
        self.assertEqual(body["receiver"], "all")
        self.assertEqual(body["groupLabels"], {"alertname": "ValueHigh"})
        a = body["alerts"][0]
        self.assertEqual(a["labels"]["instance"], "i1")
        # The rule's own label wins over an external label of the same name.
        self.assertEqual(a["labels"]["severity"], "page")
        self.assertEqual(a["labels"]["cluster"], "eu1")  # external label added
        self.assertEqual(a["annotations"]["summary"], "i1 is at 42 in eu1")
        self.assertTrue(a["generatorURL"].startswith("http://vigil.example/graph?g0.expr="))
        self.assertEqual(body["commonLabels"]["cluster"], "eu1")
        slack = self.sink.wait(lambda p: p[0] == "/slack")
        self.assertTrue(slack)
        att = slack[0][1]["attachments"][0]
        self.assertEqual(slack[0][1]["channel"], "#ops")
        self.assertEqual(slack[0][1]["username"], "Vigil")  # default template
        self.assertEqual(att["title"], "FIRING: ValueHigh (1 firing) in eu1")  # templates file
        self.assertEqual(att["text"], "i1: i1 is at 42 in eu1;")
        self.assertEqual(att["color"], "danger")
        self.assertEqual(att["fallback"],
                         "[FIRING:1] ValueHigh (eu1 i1 j page) | http://vigil.example/alerts?receiver=all")
        pd = self.sink.wait(lambda p: p[0] == "/pd")
        self.assertTrue(pd)
        self.assertEqual(pd[0][1]["event_action"], "trigger")
        self.assertEqual(pd[0][1]["routing_key"], "key123")
        self.assertEqual(pd[0][1]["payload"]["summary"], "ValueHigh in eu1")
        self.assertEqual(pd[0][1]["payload"]["custom_details"]["owner"], "PAGE")
        self.assertEqual(pd[0][1]["payload"]["custom_details"]["num_firing"], "1")
        self.assertIn("instance=i1", pd[0][1]["payload"]["custom_details"]["firing"])
        self.assertEqual(pd[0][1]["client"], "Vigil")
        if self.mail:
            deadline = time.time() + 15
            while not self.mail.messages and time.time() < deadline:
                time.sleep(0.1)
            self.assertTrue(self.mail.messages, "no email received")
            frm, to, content, _ = self.mail.messages[0]
            self.assertEqual(to, ["ops@example.org"])
            msg = email.message_from_string(content, policy=email.policy.default)
            self.assertEqual(msg["Subject"], "[FIRING:1] ValueHigh (eu1 i1 j page) [eu1]")
            self.assertEqual(msg.get_content_type(), "text/html")
            html = msg.get_content()
            self.assertIn("<strong>[FIRING] ValueHigh</strong>", html)
            self.assertIn("i1 is at 42 in eu1", html)
            self.assertIn("cluster = eu1", html)

        # The Prometheus-shaped APIs.
        st, rules = self.server.get_json("/api/v1/rules")
        self.assertEqual(st, 200)
        g = rules["data"]["groups"][0]
        self.assertEqual(g["name"], "test")
        self.assertEqual(g["interval"], 1)
        self.assertEqual([r["type"] for r in g["rules"]], ["recording", "alerting"])
        self.assertEqual(g["rules"][1]["state"], "firing")
        st, alerts = self.server.get_json("/api/v1/alerts")
        self.assertEqual(alerts["data"]["alerts"][0]["labels"]["alertname"], "ValueHigh")
        self.assertEqual(alerts["data"]["alerts"][0]["value"], "4.2e+01")
        # Recording rule output and ALERTS series are in storage.
        st, q = self.server.get_json("/api/v1/query", query="job:test_value:max")
        if st == 200:
            self.assertEqual(q["data"]["result"][0]["value"][1], "42")
            st, q = self.server.get_json("/api/v1/query", query="ALERTS{alertstate=\"firing\"}")
            self.assertEqual(q["data"]["result"][0]["metric"]["alertname"], "ValueHigh")

        # Forwarded to the real Alertmanager, which lists it.
        if self.am:
            deadline = time.time() + 20
            listed = []
            while time.time() < deadline and not listed:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.am_port}/api/v2/alerts") as r:
                        listed = [x for x in json.loads(r.read()) if x["labels"].get("alertname") == "ValueHigh"]
                except OSError:
                    pass
                time.sleep(0.2)
            self.assertTrue(listed, "Alertmanager did not list the forwarded alert")
            self.assertEqual(listed[0]["labels"]["instance"], "i1")
            self.assertEqual(listed[0]["labels"]["cluster"], "eu1")  # external labels too

        # The notifier's share of the latency, from its own metric.
        st, text = self.server.request("GET", "/metrics")
        fig = {}
        for line in text.decode().splitlines():
            for k in ("_sum", "_count"):
                if line.startswith("vigil_alert_first_notification_delay_seconds" + k):
                    fig[k] = float(line.split()[-1])
        self.assertGreaterEqual(fig.get("_count", 0), 1)
        print(f"notifier: alert start -> first notification sent, mean over {fig['_count']:.0f}: "
              f"{fig['_sum'] / fig['_count'] * 1000:.0f} ms (group_wait 200ms)")

        # Resolution.
        self.push(3)
        resolved = self.sink.wait(lambda p: p[0] == "/hook" and p[1]["status"] == "resolved")
        self.assertTrue(resolved, f"no resolved webhook; log:\n{self.server.log()}")
        self.assertEqual(resolved[0][1]["alerts"][0]["status"], "resolved")

    def test_2_silences_api(self):
        now = time.time()
        sil = {"matchers": [{"name": "instance", "value": "i9", "isRegex": False, "isEqual": True}],
               "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1)),
               "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
               "createdBy": "test", "comment": "maintenance"}
        st, body = self.server.request("POST", "/api/v2/silences", json.dumps(sil).encode(),
                                       {"Content-Type": "application/json"})
        self.assertEqual(st, 200, body)
        sid = json.loads(body)["silenceID"]
        st, lst = self.server.get_json("/api/v2/silences")
        mine = [x for x in lst if x["id"] == sid]
        self.assertEqual(mine[0]["status"]["state"], "active")
        self.assertEqual(mine[0]["matchers"][0]["name"], "instance")
        # A silenced alert is not notified.
        before = len(self.sink.posts)
        self.push(50, instance="i9")
        time.sleep(3)
        new = [p for p in self.sink.posts[before:] if p[0] == "/hook" and
               any(a["labels"].get("instance") == "i9" for a in p[1]["alerts"])]
        self.assertEqual(new, [])
        st, alerts = self.server.get_json("/api/v2/alerts")
        i9 = [a for a in alerts if a["labels"].get("instance") == "i9"]
        self.assertTrue(i9)
        self.assertEqual(i9[0]["status"]["state"], "suppressed")
        self.assertEqual(i9[0]["status"]["silencedBy"], [sid])
        st, _ = self.server.request("DELETE", f"/api/v2/silence/{sid}")
        self.assertEqual(st, 200)
        st, one = self.server.get_json(f"/api/v2/silence/{sid}")
        self.assertEqual(one["status"]["state"], "expired")
        self.push(3, instance="i9")

    def test_2b_two_evaluators_one_notification(self):
        # Two evaluators (an HA pair) send the same alert: one alert, one notification.
        since = len(self.sink.posts)
        now = time.time()
        for gen in ("http://prom-a/graph", "http://prom-b/graph"):
            alert = [{"labels": {"alertname": "Dup", "instance": "x"}, "annotations": {"summary": "same"},
                      "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5)),
                      "generatorURL": gen}]
            st, body = self.server.request("POST", "/api/v2/alerts", json.dumps(alert).encode(),
                                           {"Content-Type": "application/json"})
            self.assertEqual(st, 200, body)
        hooks = self.sink.wait(lambda p: p[0] == "/hook" and p[1]["groupLabels"].get("alertname") == "Dup",
                               since=since)
        self.assertTrue(hooks, f"no webhook for Dup; log:\n{self.server.log()}")
        time.sleep(2.5)  # two more group intervals
        hooks = [p for p in self.sink.posts[since:] if p[0] == "/hook" and p[1]["groupLabels"].get("alertname") == "Dup"]
        self.assertEqual(len(hooks), 1)
        self.assertEqual(len(hooks[0][1]["alerts"]), 1)
        st, alerts = self.server.get_json("/api/v2/alerts")
        self.assertEqual(len([a for a in alerts if a["labels"].get("alertname") == "Dup"]), 1)

    def test_3_runtime_rules_survive_restart(self):
        rule = {"name": "TooMany", "expr": "sum(test_value)", "threshold": 1000, "for": "1m",
                "notify": "ops"}
        st, body = self.server.request("POST", "/alerts/rules", json.dumps(rule).encode(),
                                       {"Content-Type": "application/json"})
        self.assertEqual(st, 201, body)
        st, body = self.server.request("POST", "/alerts/rules", json.dumps(rule).encode())
        self.assertEqual(st, 409)
        self.server.stop()
        self.server.start()
        st, lst = self.server.get_json("/alerts/rules")
        self.assertEqual([r["name"] for r in lst["data"]], ["TooMany"])
        st, rules = self.server.get_json("/api/v1/rules", **{"rule_name[]": "TooMany"})
        self.assertEqual(rules["data"]["groups"][0]["rules"][0]["query"], "(sum(test_value)) > 1000")
        st, _ = self.server.request("DELETE", "/alerts/rules/TooMany")
        self.assertEqual(st, 200)
        st, lst = self.server.get_json("/alerts/rules")
        self.assertEqual(lst["data"], [])

    def test_4_reload_keeps_alerts_and_refuses_bad_configs(self):
        # An alert fires and is notified under the first configuration.
        since = len(self.sink.posts)
        self.push(77, instance="i5")
        hooks = self.sink.wait(lambda p: p[0] == "/hook" and p[1]["status"] == "firing" and
                               any(a["labels"]["instance"] == "i5" for a in p[1]["alerts"]), since=since)
        self.assertTrue(hooks, f"no webhook for i5; log:\n{self.server.log()}")

        # SIGHUP with a changed Slack title: applied, and i5 is not notified again.
        self.write_config(slack_title='v2 {{ template "vigil.title" . }}')
        since = len(self.sink.posts)
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while "notifier configured from the notify section" not in self.server.log().split(
                "received SIGHUP")[-1] and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(2.5)  # two group intervals
        again = [p for p in self.sink.posts[since:] if p[0] == "/hook"]
        self.assertEqual(again, [], "the reload re-notified an alert already notified")
        self.push(88, instance="i6")
        slack = self.sink.wait(lambda p: p[0] == "/slack" and
                               p[1]["attachments"][0]["title"].startswith("v2 "), since=since)
        self.assertTrue(slack, f"no Slack message with the reloaded title; log:\n{self.server.log()}")
        self.assertEqual(slack[0][1]["attachments"][0]["title"], "v2 FIRING: ValueHigh (2 firing) in eu1")

        # A bad template is refused with its position; the running configuration stays.
        with open(os.path.join(self.conf, "prometheus.yml")) as f:
            good = f.read()
        self.write_config(slack_title="{{ .Status | nosuchfunc }}")
        st, body = self.server.request("POST", "/-/reload")
        self.assertEqual(st, 500)
        self.assertIn("prometheus.yml:", body.decode())
        self.assertIn('function "nosuchfunc" not defined', body.decode())
        since = len(self.sink.posts)
        self.push(2, instance="i5")
        self.push(2, instance="i6")
        slack = self.sink.wait(lambda p: p[0] == "/slack" and p[1]["attachments"][0]["title"].startswith("v2 RESOLVED"),
                               since=since)
        self.assertTrue(slack, f"the old configuration stopped working; log:\n{self.server.log()}")
        write(os.path.join(self.conf, "prometheus.yml"), good)
        st, body = self.server.request("POST", "/-/reload")
        self.assertEqual(st, 200, body)

    def test_5_alertmanager_config_file_overrides_the_section(self):
        write(os.path.join(self.conf, "am.yml"),
              f"route: {{receiver: only, group_wait: 200ms}}\nreceivers:\n  - name: only\n"
              f"    webhook_configs: [{{url: 'http://127.0.0.1:{self.sink.port}/only'}}]\n")
        self.server.stop()
        self.server.args = self.args + [f"--alertmanager.config.file={self.conf}/am.yml"]
        self.server.start()
        try:
            self.assertIn("overrides the notify section", self.server.log())
            since = len(self.sink.posts)
            self.push(99, instance="i7")
            hooks = self.sink.wait(lambda p: p[0] == "/only", since=since)
            self.assertTrue(hooks, f"no webhook from the alertmanager.yml receiver; log:\n{self.server.log()}")
            self.assertEqual(hooks[0][1]["receiver"], "only")
        finally:
            self.push(1, instance="i7")
            self.server.stop()
            self.server.args = self.args
            self.server.start()


if __name__ == "__main__":
    unittest.main()

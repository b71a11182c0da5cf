"""Scenario families of infrastructure work: containers, clusters, provisioning, web servers."""

from random import Random

from stages.synthesis.episode import Episode, blocker, code, success
from stages.synthesis.scenario_details import (
    World,
    home_dir,
    pick,
    seconds,
    short_sha,
    uuid_text,
    version,
)
from stages.synthesis.terminal import Step, bold, bold_green, green, red, yellow

DOCKER_FAILURES = (
    (
        "RUN pip install --no-cache-dir -r requirements.txt",
        "ERROR: Could not find a version that satisfies the requirement internal-sdk==2.3.1",
        "a private package the build cannot reach",
        "Build team / owner of the private package index",
    ),
    (
        "COPY config/settings.prod.yaml /app/config/",
        (
            "failed to compute cache key: failed to calculate checksum of "
            'ref: "/config/settings.prod.yaml": not found'
        ),
        "a file missing from the build context (or excluded by .dockerignore)",
        "Whoever changed the Dockerfile or .dockerignore",
    ),
    (
        "RUN npm ci --omit=dev",
        (
            "npm ERR! `npm ci` can only install packages when your package.json "
            "and package-lock.json are in sync."
        ),
        "a lockfile out of sync with package.json",
        "Author of the last dependency change",
    ),
    (
        "RUN apt-get update && apt-get install -y libpq-dev=15.4-1",
        "E: Version '15.4-1' for 'libpq-dev' was not found",
        "a pinned system package version that the base image no longer offers",
        "Platform team (base images)",
    ),
)


def docker_build_failure(rng: Random, w: World) -> Episode:
    """A BuildKit build failing at one step; sometimes fixed and rebuilt."""
    cwd = home_dir(w)
    tag = f"{w.project}:{version(rng, (1, 4))}"
    build = f"docker build -t {tag} ."
    instruction, error, cause, owner = rng.choice(DOCKER_FAILURES)
    total = rng.randint(8, 14)
    failing = rng.randint(3, total - 2)
    bases = {
        "pip": ("python:3.12-slim", "python:3.11-slim"),
        "npm": ("node:20-alpine", "node:18-slim"),
    }
    kind = next((k for k in bases if k in instruction), None)
    base = rng.choice(bases[kind] if kind else ("debian:bookworm-slim", "python:3.12-slim"))
    lines = [
        f"[+] Building {seconds(rng, 5, 120)}s ({failing}/{total}) docker:default",
        f" => [internal] load build definition from Dockerfile{' ' * 20}0.0s",
        f" => [1/{total}] FROM docker.io/library/{base}{' ' * 10}1.2s",
        f" => {red('ERROR')} [{failing}/{total}] {instruction}",
        "------",
        f" > [{failing}/{total}] {instruction}:",
        red(f"{error}"),
        "------",
        red(
            f'ERROR: failed to solve: process "/bin/sh -c {instruction.removeprefix("RUN ")}" '
            "did not complete successfully: exit code: 1"
        )
        if instruction.startswith("RUN")
        else red(f"ERROR: failed to solve: {error}"),
    ]
    steps = [Step(build, "\n".join(lines), 1, cwd, w.branch)]
    if rng.random() < 0.4:
        digest = f"sha256:{rng.getrandbits(256):064x}"
        done = (
            f"[+] Building {seconds(rng, 20, 200)}s ({total}/{total}) FINISHED\n"
            f" => exporting to image\n => => writing image {digest}\n => => "
            f"naming to docker.io/library/{tag}"
        )
        steps += [
            Step(
                "git diff --stat",
                f" Dockerfile | 2 {green('+')}{red('-')}\n 1 file changed",
                0,
                cwd,
                w.branch,
            ),
            Step(build, done, 0, cwd, w.branch),
        ]
        return Episode(
            steps,
            (
                f"The Docker build of {tag} failed at step {failing}/{total} ({cause}); "
                "after a Dockerfile change it built."
            ),
            [
                success(
                    f"Image {tag} built",
                    [build],
                    f"{total}/{total} FINISHED; the first attempt failed at step {failing}/{total}",
                    f"naming to docker.io/library/{tag}",
                )
            ],
            [],
            [f"Push {tag} to the registry once CI confirms the fix"],
        )
    return Episode(
        steps,
        f"The Docker build of {tag} fails at step {failing}/{total}: {cause}.",
        [],
        [
            blocker(
                f"{code(build)} fails at step {failing}/{total} ({instruction}): {error}",
                f"No image {tag} to deploy",
                owner,
                f"Reproduce the step in a shell of {base}; look for {cause}",
            )
        ],
        ["`docker build --progress=plain` shows the full output of the failing step"],
    )


RBAC_VERBS = (
    ("create", "deployments", "apps"),
    ("patch", "configmaps", ""),
    ("create", "secrets", ""),
    ("delete", "pods", ""),
    ("create", "ingresses", "networking.k8s.io"),
)


def kubernetes_rbac_denied(rng: Random, w: World) -> Episode:
    cwd = home_dir(w)
    namespace = rng.choice(["payments", "shop", "platform", "search", "billing", "data"])
    context = f"{w.env}-{rng.choice(['eks', 'gke', 'aks'])}-{rng.randint(1, 3)}"
    account = rng.choice(
        [
            "system:serviceaccount:ci:deployer",
            f"{w.user}",
            f"system:serviceaccount:{namespace}:release-bot",
        ]
    )
    verb, resource, group = rng.choice(RBAC_VERBS)
    manifest = f"k8s/{resource}.yaml"
    pods = rng.randint(2, 9)
    replica_set = f"{rng.getrandbits(40):010x}"  # the pods of one deployment share it
    pod_lines = "\n".join(
        (
            f"{w.project}-{replica_set}-{short_sha(rng)[:5]}   1/1     "
            f"Running   {rng.randint(0, 3)}          {rng.randint(1, 20)}d"
        )
        for _ in range(pods)
    )
    group_text = f'in API group "{group}"' if group else 'in API group ""'
    apply_cmd = (
        f"kubectl apply -f {manifest} -n {namespace}"
        if verb in ("create", "patch")
        else f"kubectl delete pod -l app={w.project} -n {namespace}"
    )
    when = f'error when creating "{manifest}": ' if verb in ("create", "patch") else ""
    qualified = f"{resource}.{group}" if group else resource
    denial = red(
        f"Error from server (Forbidden): {when}{qualified} is forbidden: User "
        f'"{account}" cannot {verb} resource "{resource}" {group_text} '
        f'in the namespace "{namespace}"'
    )
    steps = [
        Step("kubectl config current-context", context, 0, cwd, w.branch),
        Step(
            f"kubectl get pods -n {namespace}",
            "NAME" + " " * 30 + "READY   STATUS    RESTARTS   AGE\n" + pod_lines,
            0,
            cwd,
            w.branch,
        ),
        Step(apply_cmd, denial, 1, cwd, w.branch),
        Step(f"kubectl auth can-i {verb} {resource} -n {namespace}", "no", 1, cwd, w.branch),
    ]
    return Episode(
        steps,
        (
            f"On context {context}, listing pods in {namespace} worked but "
            f"{account} may not {verb} {resource} there."
        ),
        [
            success(
                f"Read access to namespace {namespace}",
                [f"kubectl get pods -n {namespace}"],
                f"{w.project} pods Running on {context}",
            )
        ],
        [
            blocker(
                f"{code(apply_cmd)} is Forbidden: {account} cannot {verb} {resource} "
                f"in {namespace}; "
                f"{code(f'kubectl auth can-i {verb} {resource} -n {namespace}')} answers no",
                f"The change cannot be rolled out to {namespace} on {context}",
                "Cluster admins / platform team (RBAC)",
                (
                    f"Ask for a RoleBinding granting {verb} on {resource} in {namespace}, "
                    "then rerun the can-i check"
                ),
            )
        ],
        [f"`kubectl describe rolebinding -n {namespace}` to see what {account} is bound to"],
    )


TF_RESOURCES = (
    "aws_s3_bucket.assets",
    "aws_iam_role.worker",
    "aws_security_group.api",
    "aws_db_instance.main",
    "aws_lambda_function.resize",
    "aws_sqs_queue.events",
    "aws_cloudwatch_log_group.api",
)


PLAN_ACTIONS = {
    "create": ("created", "+"),
    "update": ("updated in-place", "~"),
    "destroy": ("destroyed", "-"),
}


def _planned(kind: str, name: str, action: str) -> str:
    """One resource of a plan as Terraform prints it."""
    verb, sign = PLAN_ACTIONS[action]
    colour = {"+": green, "~": yellow, "-": red}[sign]
    return (
        f'  # {kind}.{name} will be {verb}\n  {colour(sign)} resource "{kind}" "{name}" {{ ... }}'
    )


def terraform_plan(rng: Random, w: World) -> Episode:
    """init, validate and plan; the plan succeeds or stops on a held state lock."""
    cwd = f"~/infra/envs/{w.env}"
    providers = version(rng, (4, 5), 80, 9)
    modules = "".join(
        f"- {m} in ../../modules/{m}\n"
        for m in sorted(
            pick(
                rng,
                ["vpc", "rds", "eks", "alb", "s3_site", "iam", "redis", "dns"],
                rng.randint(1, 4),
            )
        )
    )
    extra = "".join(
        f"- Using previously-installed hashicorp/{p} v{version(rng, (2, 3), 30, 9)}\n"
        for p in pick(rng, ["random", "tls", "null", "archive"], rng.randint(0, 2))
    )
    steps = [
        Step(
            "terraform init",
            (
                f"Initializing the backend...\nInitializing modules...\n{modules}Initializing "
                "provider plugins...\n- Using previously-installed hashicorp/aws "
                f"v{providers}\n{extra}\n"
            )
            + bold_green("Terraform has been successfully initialized!"),
            0,
            cwd,
            w.branch,
        ),
        Step(
            "terraform validate",
            green("Success!") + " The configuration is valid.",
            0,
            cwd,
            w.branch,
        ),
    ]
    successes = [
        success(
            f"Terraform initialized and valid for {w.env}",
            ["terraform init", "terraform validate"],
            f"hashicorp/aws v{providers}",
        )
    ]
    plan = rng.choice(
        ["terraform plan -out=tfplan", f"terraform plan -var-file={w.env}.tfvars -out=tfplan"]
    )
    if rng.random() < 0.6:
        add = rng.randint(1, 6)  # a plan that changes nothing prints "No changes" instead
        change = rng.randint(0, min(4, len(TF_RESOURCES) - add))
        destroy = rng.randint(0, min(2, len(TF_RESOURCES) - add - change))
        changes = pick(rng, TF_RESOURCES, add + change + destroy)
        actions = ["create"] * add + ["update"] * change + ["destroy"] * destroy
        body = "\n".join(
            _planned(kind, f"{w.project.replace('-', '_')}_{name}", action)
            for (kind, name), action in zip((r.split(".") for r in changes), actions, strict=True)
        )
        steps.append(
            Step(
                plan,
                body
                + (
                    f"\n\n{bold('Plan:')} {add} to add, {change} to change, {destroy} "
                    "to destroy.\n\nSaved the plan to: tfplan"
                ),
                0,
                cwd,
                w.branch,
            )
        )
        successes.append(
            success(
                "Plan saved for review",
                [plan],
                f"{add} to add, {change} to change, {destroy} to destroy in {w.env}",
                "Saved the plan to: tfplan",
            )
        )
        resources = ["Review tfplan with `terraform show tfplan` before `terraform apply tfplan`"]
        if destroy:
            resources.append(f"Double-check the {destroy} resource(s) to destroy")
        return Episode(
            steps,
            (
                f"Terraform for {w.env} initialized, validated and planned: {add} "
                f"to add, {change} to change, {destroy} to destroy."
            ),
            successes,
            [],
            resources,
        )
    lock_id = uuid_text(rng)
    holder = rng.choice(
        ["jenkins@build-04", "runner@gha-7", f"{rng.choice(['priya', 'omar', 'wei'])}@workstation"]
    )
    lock = red("Error: Error acquiring the state lock") + (
        f"\n\nLock Info:\n  ID:        {lock_id}\n"
        f"  Path:      tf-state-{w.env}/terraform.tfstate\n "
        f" Operation: OperationTypeApply\n  Who:       {holder}\n\nTerraform "
        "acquires a state lock to protect the state from being written\nby "
        "multiple users at the same time."
    )
    steps.append(Step(plan, lock, 1, cwd, w.branch))
    return Episode(
        steps,
        (
            f"Terraform for {w.env} initialized and validated, but the plan "
            f"could not take the state lock held by {holder}."
        ),
        successes,
        [
            blocker(
                f"{code(plan)} fails: state lock {lock_id} is held by {holder}",
                f"No plan or apply for {w.env} until the lock is released",
                f"{holder.split('@')[0]} (holder of the lock)",
                f"Check whether {holder} still runs; only then "
                f"{code(f'terraform force-unlock {lock_id}')}",
            )
        ],
        ["Terraform docs: state locking and force-unlock"],
    )


def ansible_deploy(rng: Random, w: World) -> Episode:
    cwd = "~/ops/ansible"
    hosts = [f"web-{i}" for i in sorted(pick(rng, [1, 2, 3, 4, 5, 6, 7, 8], rng.randint(2, 4)))]
    playbook = (
        f"ansible-playbook -i inventories/{w.env} deploy.yml --limit web "
        f"-e version={version(rng, (1, 4))}"
    )
    release = playbook.rsplit("=", 1)[1]
    bad = rng.choice(hosts) if rng.random() < 0.5 else None
    recap, counts = [], {}
    for h in hosts:
        ok, changed = rng.randint(10, 30), rng.randint(1, 6)
        if h == bad:
            counts[h] = (ok // 2, 0)
            recap.append(
                f"{red(h):<30}: ok={ok // 2}    changed=0    unreachable=1    failed=0    skipped=0"
            )
        else:
            counts[h] = (ok, changed)
            recap.append(
                f"{yellow(h):<30}: ok={ok}   changed={changed}    unreachable=0 "
                f"   failed=0    skipped={rng.randint(0, 4)}"
            )
    tasks = f"PLAY [web] {'*' * 40}\n\nTASK [Gathering Facts] {'*' * 30}\n" + "\n".join(
        green(f"ok: [{h}]") for h in hosts if h != bad
    )
    if bad:
        tasks += "\n" + red(
            f'fatal: [{bad}]: UNREACHABLE! => {{"changed": false, "msg": "Failed '
            f"to connect to the host via ssh: ssh: connect to host {bad} port "
            '22: Connection timed out", "unreachable": true}'
        )
    tasks += f"\n\nTASK [app : deploy release] {'*' * 25}\n" + "\n".join(
        yellow(f"changed: [{h}]") for h in hosts if h != bad
    )
    out = tasks + f"\n\nPLAY RECAP {'*' * 40}\n" + "\n".join(recap)
    good = [h for h in hosts if h != bad]
    steps = [Step(playbook, out, 4 if bad else 0, cwd, w.branch)]
    if not bad:
        return Episode(
            steps,
            (
                f"Ansible deployed release {release} to {', '.join(hosts)} in "
                f"{w.env} with no failures."
            ),
            [
                success(
                    f"Release {release} deployed to {w.env}",
                    [playbook],
                    ", ".join(f"{h} changed={counts[h][1]}" for h in hosts),
                    "unreachable=0 failed=0 on every host",
                )
            ],
            [],
            [f"Smoke-test {w.env} after the rollout"],
        )
    return Episode(
        steps,
        (
            f"Ansible deployed release {release} to {', '.join(good)} in {w.env}; "
            f"{bad} was unreachable over ssh."
        ),
        [],
        [
            blocker(
                (
                    f"{code(playbook)} could not reach {bad}: ssh port 22 connection "
                    "timed out (unreachable=1)"
                ),
                f"{w.env} runs mixed releases: {bad} is not on {release}",
                "Infrastructure on-call (host or network)",
                f"Check that {bad} is up and reachable on port 22, then rerun with --limit {bad}",
            )
        ],
        [f"`ansible {bad} -i inventories/{w.env} -m ping` to test connectivity"],
    )


NGINX_ERRORS = (
    ('unknown directive "proxy_pas"', "a typo in a directive"),
    ('"server_name" directive is duplicate', "a repeated server_name"),
    ('invalid number of arguments in "listen" directive', "a malformed listen line"),
    ('unexpected "}"', "unbalanced braces"),
)


def _site_lines(rng: Random, w: World) -> str:
    """What grep finds in a site config: its listen ports, names and upstreams."""
    line = rng.randint(2, 6)
    tld = rng.choice(["com", "io", "net"])
    names = " ".join(
        f"{sub}.{w.project}.{tld}"
        for sub in pick(rng, ["www", "api", "app", "admin", "static"], rng.randint(1, 3))
    )
    lines = [f"{line}:    listen {rng.choice([80, 8080])};", f"{line + 1}:    server_name {names};"]
    for location in pick(rng, ["/", "/api/", "/ws/", "/static/", "/admin/"], rng.randint(1, 3)):
        line += rng.randint(3, 9)
        upstream = (
            f"http://{w.project}-{rng.choice(['app', 'api', 'web'])}:{rng.randint(3000, 9000)}"
        )
        lines.append(f"{line}:        proxy_pass {upstream}{location};")
    return "\n".join(lines)


def nginx_config_test(rng: Random, w: World) -> Episode:
    site = f"/etc/nginx/sites-enabled/{w.project}.conf"
    line = rng.randint(8, 80)
    error, cause = rng.choice(NGINX_ERRORS)
    failed = (
        red(f"nginx: [emerg] {error} in {site}:{line}")
        + "\nnginx: configuration file /etc/nginx/nginx.conf test failed"
    )
    passed = (
        "nginx: the configuration file /etc/nginx/nginx.conf syntax is "
        "ok\nnginx: configuration file /etc/nginx/nginx.conf test is "
        "successful"
    )
    cwd = "/etc/nginx"
    sites = sorted(
        {
            f"{w.project}.conf",
            *(
                f"{s}.conf"
                for s in pick(
                    rng,
                    ["default", "grafana", "status", "api", "docs", "admin", "legacy-redirects"],
                    rng.randint(1, 4),
                )
            ),
        }
    )
    steps = [
        Step("ls sites-enabled/", "  ".join(sites), 0, cwd),
        Step(f"grep -n 'listen\\|server_name\\|proxy_pass' {site}", _site_lines(rng, w), 0, cwd),
        Step(f"sudo vim {site}", "", 0, cwd),
        Step("sudo nginx -t", failed, 1, cwd),
    ]
    if rng.random() < 0.55:
        steps += [
            Step(f"sudo vim {site}", "", 0, cwd),
            Step("sudo nginx -t", passed, 0, cwd),
            Step("sudo systemctl reload nginx", "", 0, cwd),
            Step(
                f"curl -sI http://localhost/{w.project}/ | head -n 2",
                (
                    f"HTTP/1.1 {rng.choice(['200 OK', '301 Moved Permanently', '302 Found'])}"
                    "\nServer: "
                    f"nginx/1.{rng.randint(18, 26)}.{rng.randint(0, 3)}"
                ),
                0,
                cwd,
            ),
        ]
        return Episode(
            steps,
            (
                f"nginx rejected {site} ({cause} at line {line}); after a second "
                "edit the test passed and nginx was reloaded."
            ),
            [
                success(
                    "nginx configuration valid and reloaded",
                    ["sudo nginx -t", "sudo systemctl reload nginx"],
                    f"{site}; the first test failed at line {line}",
                    "test is successful",
                )
            ],
            [],
            ["Keep the site config in version control so edits are reviewed"],
        )
    return Episode(
        steps,
        (
            f"nginx rejects the edited {site}: {error} at line {line}; the "
            "running configuration was not reloaded."
        ),
        [],
        [
            blocker(
                f"{code('sudo nginx -t')} fails: {error} in {site}:{line}",
                "Any reload or restart of nginx would fail; the new site config is not live",
                "Whoever edits the nginx site config (ops)",
                f"Fix line {line} of {site} ({cause}) and rerun the test before reloading",
            )
        ],
        ["nginx docs for the directive named in the error"],
    )


def ssl_certificate_renewal(rng: Random, w: World) -> Episode:
    zone = rng.choice(["example.com", "example.org", "acme.test"])
    domain = f"{rng.choice(['api', 'shop', 'www', 'portal', 'status'])}.{zone}"
    days = rng.randint(3, 25)
    expiry = f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    certs = [(domain, expiry, days)]
    for other in pick(
        rng,
        ["www", "admin", "grafana", "docs", "cdn", "mail-relay", "hooks", "beta"],
        rng.randint(0, 3),
    ):
        certs.append(
            (
                f"{other}.{domain.split('.', 1)[1]}",
                f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.randint(30, 89),
            )
        )
    rng.shuffle(certs)
    listing = "Found the following certs:\n" + "\n".join(
        f"  Certificate Name: {name}\n    Serial Number: {rng.getrandbits(64):x}\n"
        f"    Key Type: {rng.choice(['RSA', 'ECDSA'])}\n    Domains: {name}\n"
        f"    Expiry Date: {when} {rng.randint(0, 23):02d}:{rng.randint(10, 59)}:00+00:00 "
        f"({(yellow if left < 30 else green)(f'VALID: {left} days')})\n"
        f"    Certificate Path: /etc/letsencrypt/live/{name}/fullchain.pem"
        for name, when, left in certs
    )
    authenticator = rng.choice(["webroot", "nginx", "standalone"])
    cwd = "~"
    steps = [Step("sudo certbot certificates", listing, 0, cwd)]
    if rng.random() < 0.6:
        steps += [
            Step(
                "sudo certbot renew --dry-run",
                (
                    f"Processing /etc/letsencrypt/renewal/{domain}.conf\nSimulating "
                    f"renewal of an existing certificate for {domain}\n"
                )
                + green("Congratulations, all simulated renewals succeeded:")
                + f"\n  /etc/letsencrypt/live/{domain}/fullchain.pem (success)",
                0,
                cwd,
            ),
            Step(
                f"sudo certbot renew --cert-name {domain}",
                f"Renewing an existing certificate for {domain}\n"
                + green("Congratulations, all renewals succeeded:")
                + f"\n  /etc/letsencrypt/live/{domain}/fullchain.pem (success)",
                0,
                cwd,
            ),
            Step("sudo systemctl reload nginx", "", 0, cwd),
        ]
        return Episode(
            steps,
            (
                f"The certificate for {domain} had {days} days left; a dry run "
                "and the real renewal succeeded and nginx was reloaded."
            ),
            [
                success(
                    f"Certificate for {domain} renewed",
                    ["sudo certbot renew --dry-run", f"sudo certbot renew --cert-name {domain}"],
                    f"was VALID: {days} days, expiry {expiry}",
                    "all renewals succeeded",
                ),
                success(
                    "nginx serving the new certificate",
                    ["sudo systemctl reload nginx"],
                    f"/etc/letsencrypt/live/{domain}/fullchain.pem",
                ),
            ],
            [],
            ["Check that the certbot timer is enabled: `systemctl list-timers certbot`"],
        )
    failure = (
        f"Renewing an existing certificate for {domain}\n\nCertbot failed "
        f"to authenticate some domains (authenticator: {authenticator}).\n"
        f"  Domain: {domain}\n  Type:   connection\n  Detail: Fetching "
        f"http://{domain}/.well-known/acme-challenge/{short_sha(rng)}: "
        "Timeout during connect (likely firewall problem)\n\n"
    ) + red("Failed to renew certificate " + domain + " with error: Some challenges have failed.")
    steps.append(Step(f"sudo certbot renew --cert-name {domain}", failure, 1, cwd))
    return Episode(
        steps,
        (
            f"The certificate for {domain} expires in {days} days ({expiry}) "
            "and renewal failed: the HTTP challenge timed out."
        ),
        [
            success(
                "Checked certificate expiry",
                ["sudo certbot certificates"],
                f"{domain}: VALID: {days} days, expiry {expiry}",
            )
        ],
        [
            blocker(
                (
                    f"{code(f'sudo certbot renew --cert-name {domain}')} fails: the "
                    f"challenge for {domain} timed out during connect"
                ),
                f"{domain} serves an expired certificate in {days} days unless renewed",
                "Network / firewall owners in front of the web server",
                (
                    "Let the ACME servers reach the site over HTTP (or switch to "
                    "a DNS challenge) and retry with --dry-run first"
                ),
            )
        ],
        ["Let's Encrypt docs: challenge types (HTTP and DNS)"],
    )


def aws_cli_deploy(rng: Random, w: World) -> Episode:
    """A static site synced to S3 and a CloudFront invalidation, or a Lambda update denied."""
    cwd = home_dir(w)
    account = f"{rng.randint(10**11, 10**12 - 1)}"
    arn = f"arn:aws:iam::{account}:user/{w.user}"
    identity = (
        f'{{\n    "UserId": "AIDA{rng.getrandbits(60):015X}",\n    "Account": '
        f'"{account}",\n    "Arn": "{arn}"\n}}'
    )
    steps = [Step(f"aws sts get-caller-identity --profile {w.env}", identity, 0, cwd, w.branch)]
    ident = success(
        f"Authenticated to account {account}",
        [f"aws sts get-caller-identity --profile {w.env}"],
        f"as {arn}",
    )
    if rng.random() < 0.55:
        bucket = f"{w.project}-{w.env}-site"
        files = pick(
            rng,
            [
                "index.html",
                "app.js",
                "app.css",
                "logo.svg",
                "manifest.json",
                "robots.txt",
                "favicon.ico",
                "vendor.js",
            ],
            rng.randint(3, 7),
        )
        sync = f"aws s3 sync dist/ s3://{bucket}/ --delete --profile {w.env}"
        uploads = "\n".join(f"upload: dist/{f} to s3://{bucket}/{f}" for f in files)
        dist = f"E{rng.getrandbits(52):013X}"
        inval = (
            f"aws cloudfront create-invalidation --distribution-id {dist} "
            f"--paths '/*' --profile {w.env}"
        )
        inval_id = f"I{rng.getrandbits(60):015X}"
        steps += [
            Step(sync, uploads, 0, cwd, w.branch),
            Step(
                inval,
                (
                    '{\n    "Location": "https://cloudfront.amazonaws.com/2020-05-31/distribution/'
                    f'{dist}/invalidation/{inval_id}",\n '
                    f'   "Invalidation": {{\n        "Id": "{inval_id}",\n        '
                    '"Status": "InProgress"\n    }\n}'
                ),
                0,
                cwd,
                w.branch,
            ),
        ]
        return Episode(
            steps,
            (
                f"Deployed {w.project} to s3://{bucket} ({', '.join(files)}) and "
                f"started CloudFront invalidation {inval_id}."
            ),
            [
                ident,
                success(f"Site synced to s3://{bucket}", [sync], f"uploaded {', '.join(files)}"),
                success(
                    "Cache invalidation started",
                    [inval],
                    f"distribution {dist}, invalidation {inval_id} InProgress",
                ),
            ],
            [],
            [
                (
                    "`aws cloudfront wait invalidation-completed --distribution-id "
                    f"{dist} --id {inval_id}`"
                )
            ],
        )
    function = f"{w.project}-{rng.choice(['handler', 'worker', 'resize', 'webhook'])}"
    update = (
        f"aws lambda update-function-code --function-name {function} --zip-file "
        f"fileb://build/{function}.zip --profile {w.env}"
    )
    denied = red(
        "An error occurred (AccessDeniedException) when calling the UpdateFunctionCode "
        f"operation: User: {arn} is not authorized to perform: lambda:UpdateFunctionCode "
        f"on resource: arn:aws:lambda:{w.region}:{account}:function:{function} "
        "because no identity-based policy allows the lambda:UpdateFunctionCode "
        "action"
    )
    steps.append(Step(update, denied, 254, cwd, w.branch))
    return Episode(
        steps,
        (
            f"Authenticated to AWS account {account} as {w.user}, but updating "
            f"Lambda {function} in {w.region} was denied."
        ),
        [ident],
        [
            blocker(
                (
                    f"{code(update)} fails with AccessDeniedException: no policy allows "
                    f"lambda:UpdateFunctionCode for {arn}"
                ),
                f"The new code of {function} cannot be deployed to {w.env}",
                "Cloud platform team (IAM)",
                (
                    f"Request lambda:UpdateFunctionCode on {function}, or deploy through "
                    "the pipeline role"
                ),
            )
        ],
        ["IAM policy simulator for the user and action"],
    )

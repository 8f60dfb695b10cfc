package deployments_test

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// revocastCommands are the commands a shipped container may run.
var revocastCommands = map[string]bool{"publisher": true, "subscriber": true, "init": true}

// fileFlags name files that must be mounted.
var fileFlags = []string{"config", "nats-creds", "nats-tls-ca", "tls-cert", "tls-key", "tls-client-ca"}

// listenFlags are the HTTP addresses the kubelet probes.
var listenFlags = map[string]string{"publisher": "publisher-addr", "subscriber": "subscriber-addr"}

// checker reports what is wrong with a set of objects; errorf collects.
type checker struct {
	t      *testing.T
	errorf func(format string, args ...any)
	objs   []object
}

func checkObjects(t *testing.T, objs []object) { newChecker(t, objs, t.Errorf).run() }

func newChecker(t *testing.T, objs []object, errorf func(string, ...any)) *checker {
	return &checker{t: t, errorf: errorf, objs: objs}
}

func (c *checker) run() {
	for _, o := range c.objs {
		spec, tmplLabels := podSpec(o)
		if spec != nil {
			c.workload(o, spec, tmplLabels)
		}
		switch v := o.Obj.(type) {
		case *corev1.Service:
			c.service(v)
		case *policyv1.PodDisruptionBudget:
			if c.podSelected(labels.SelectorFromSet(v.Spec.Selector.MatchLabels)) == nil {
				c.errorf("PodDisruptionBudget %s selects no pod template", v.Name)
			}
		}
	}
}

func (c *checker) workload(o object, spec *corev1.PodSpec, tmplLabels map[string]string) {
	where := o.Kind + " " + o.Name
	var sel map[string]string
	switch w := o.Obj.(type) {
	case *appsv1.Deployment:
		sel = w.Spec.Selector.MatchLabels
	case *appsv1.StatefulSet:
		sel = w.Spec.Selector.MatchLabels
	}
	if sel != nil && !labels.SelectorFromSet(sel).Matches(labels.Set(tmplLabels)) {
		c.errorf("%s: selector %v does not match its template's labels %v", where, sel, tmplLabels)
	}
	volumes := map[string]*corev1.Volume{}
	for i := range spec.Volumes {
		volumes[spec.Volumes[i].Name] = &spec.Volumes[i]
	}
	for _, ctr := range spec.Containers {
		cwhere := where + " container " + ctr.Name
		for _, m := range ctr.VolumeMounts {
			if volumes[m.Name] == nil {
				c.errorf("%s mounts volume %q, which the pod does not have", cwhere, m.Name)
			}
		}
		for kind, p := range map[string]*corev1.Probe{"readiness": ctr.ReadinessProbe, "liveness": ctr.LivenessProbe, "startup": ctr.StartupProbe} {
			if p != nil && p.HTTPGet != nil {
				if p.HTTPGet.Host != "" {
					c.errorf("%s: %s probe host %q: the kubelet would probe that address from the node, not the pod", cwhere, kind, p.HTTPGet.Host)
				}
				if containerPort(ctr, p.HTTPGet.Port.String()) == 0 {
					c.errorf("%s: %s probe port %s is not a port of the container", cwhere, kind, p.HTTPGet.Port.String())
				}
			}
		}
		if len(ctr.Args) > 0 && revocastCommands[ctr.Args[0]] {
			c.revocastContainer(o, spec, ctr, cwhere)
		}
	}
}

// containerPort resolves a probe's or a Service's port (a name or a number)
// against a container's ports; 0 when it is not one of them.
func containerPort(ctr corev1.Container, port string) int32 {
	for _, p := range ctr.Ports {
		if p.Name == port || strconv.Itoa(int(p.ContainerPort)) == port {
			return p.ContainerPort
		}
	}
	return 0
}

func (c *checker) revocastContainer(o object, spec *corev1.PodSpec, ctr corev1.Container, where string) {
	command := ctr.Args[0]
	flags := commandFlags(c.t, command)
	given := map[string]string{}
	for _, a := range ctr.Args[1:] {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !ok {
			c.errorf("%s: argument %q: write every flag as --name=value", where, a)
			continue
		}
		if _, known := flags[name]; !known {
			c.errorf("%s: revocast %s has no flag --%s", where, command, name)
		}
		given[name] = value
	}
	env := map[string]bool{}
	twins := map[string]bool{"REVOCAST_NATS_PASSWORD": true} // read from the environment only
	for _, e := range flags {
		twins[e] = true
	}
	for _, e := range ctr.Env {
		env[e.Name] = true
		if strings.HasPrefix(e.Name, "REVOCAST_") && !twins[e.Name] {
			c.errorf("%s: revocast %s reads no variable %s", where, command, e.Name)
		}
	}
	sc := ctr.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.errorf("%s: must run as the image's user 65532, non-root, read-only root filesystem, no privilege escalation", where)
	}
	if ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
		c.errorf("%s: memory request and limit must be set", where)
	}
	if given["nats-creds"] == "" {
		c.errorf("%s: no --nats-creds: every component connects with its NATS identity", where)
	}
	if listen := listenFlags[command]; listen != "" {
		c.listening(ctr, where, listen, given[listen])
	}
	for _, f := range fileFlags {
		if p, ok := given[f]; ok {
			c.mounted(o, spec, ctr, where, f, p, env)
		}
	}
}

// listening checks that the readiness probe reaches the address the
// command listens on: the pod's IP, on the probed port.
func (c *checker) listening(ctr corev1.Container, where, flag, addr string) {
	if ctr.ReadinessProbe == nil || ctr.ReadinessProbe.HTTPGet == nil {
		c.errorf("%s: no HTTP readiness probe", where)
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		c.errorf("%s: --%s=%q: %v", where, flag, addr, err)
		return
	}
	if host != "0.0.0.0" && host != "" && host != "::" {
		c.errorf("%s: --%s=%s: the kubelet probes the pod's IP, which this address does not listen on", where, flag, addr)
	}
	if got := containerPort(ctr, ctr.ReadinessProbe.HTTPGet.Port.String()); strconv.Itoa(int(got)) != port {
		c.errorf("%s: the readiness probe goes to port %d, --%s listens on %s", where, got, flag, port)
	}
}

// mounted checks that a file flag's path is under a mount, and that the
// volume provides that file (for a StatefulSet's $(REVOCAST_ID), each pod's).
func (c *checker) mounted(o object, spec *corev1.PodSpec, ctr corev1.Container, where, flag, file string, env map[string]bool) {
	var mount *corev1.VolumeMount
	for i, m := range ctr.VolumeMounts {
		if strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") {
			mount = &ctr.VolumeMounts[i]
		}
	}
	if mount == nil {
		c.errorf("%s: --%s=%s is not under any volume mount", where, flag, file)
		return
	}
	rel := strings.TrimPrefix(file, strings.TrimSuffix(mount.MountPath, "/")+"/")
	files := []string{rel}
	if strings.Contains(rel, "$(REVOCAST_ID)") {
		if !env["REVOCAST_ID"] {
			c.errorf("%s: --%s uses $(REVOCAST_ID), which the container's env does not define", where, flag)
		}
		ss, ok := o.Obj.(*appsv1.StatefulSet)
		if !ok {
			c.errorf("%s: a file per sidecar id needs pod names known in advance (a StatefulSet)", where)
			return
		}
		files = nil
		for i := 0; i < int(*ss.Spec.Replicas); i++ {
			files = append(files, strings.ReplaceAll(rel, "$(REVOCAST_ID)", fmt.Sprintf("%s-%d", ss.Name, i)))
		}
	}
	for _, v := range spec.Volumes {
		if v.Name != mount.Name {
			continue
		}
		have := c.volumeFiles(v)
		for _, f := range files {
			if have != nil && !have[f] {
				c.errorf("%s: --%s needs %s in volume %s, which holds %v", where, flag, path.Join(mount.MountPath, f), v.Name, have)
			}
		}
	}
}

// volumeFiles lists the files a Secret, ConfigMap or projected volume
// provides, when it says (items, or a Secret of this manifest); nil when
// unknown (a Secret made outside the manifest, mounted whole).
func (c *checker) volumeFiles(v corev1.Volume) map[string]bool {
	files := map[string]bool{}
	add := func(items []corev1.KeyToPath, kind, name string) bool {
		for _, it := range items {
			files[it.Path] = true
		}
		if len(items) > 0 {
			return true
		}
		for _, o := range c.objs {
			if s, ok := o.Obj.(*corev1.Secret); ok && kind == "Secret" && s.Name == name {
				for k := range s.StringData {
					files[k] = true
				}
				for k := range s.Data {
					files[k] = true
				}
				return true
			}
		}
		return false
	}
	switch {
	case v.Secret != nil:
		if !add(v.Secret.Items, "Secret", v.Secret.SecretName) {
			return nil
		}
	case v.ConfigMap != nil:
		if !add(v.ConfigMap.Items, "ConfigMap", v.ConfigMap.Name) {
			return nil
		}
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			switch {
			case s.Secret != nil:
				add(s.Secret.Items, "Secret", s.Secret.Name)
			case s.ConfigMap != nil:
				add(s.ConfigMap.Items, "ConfigMap", s.ConfigMap.Name)
			}
		}
	default:
		return nil
	}
	return files
}

// podSelected returns the first pod template the selector matches.
func (c *checker) podSelected(sel labels.Selector) *corev1.PodSpec {
	for _, o := range c.objs {
		if spec, l := podSpec(o); spec != nil && sel.Matches(labels.Set(l)) {
			return spec
		}
	}
	return nil
}

func (c *checker) service(s *corev1.Service) {
	spec := c.podSelected(labels.SelectorFromSet(s.Spec.Selector))
	if spec == nil {
		c.errorf("Service %s selects no pod template", s.Name)
		return
	}
	for _, p := range s.Spec.Ports {
		found := false
		for _, ctr := range spec.Containers {
			found = found || containerPort(ctr, p.TargetPort.String()) != 0
		}
		if !found {
			c.errorf("Service %s: targetPort %s is no port of the pods it selects", s.Name, p.TargetPort.String())
		}
	}
}

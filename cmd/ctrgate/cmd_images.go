package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/docker/go-units"

	"github.com/ctrgate/ctrgate"
)

// exitImageAbsent is the exit code of `image exists` for a missing image
// (as `podman image exists`).
const exitImageAbsent = 1

// imageArg checks that args is one valid image reference (before any
// engine is touched) and opens the runtime.
func (a *app) imageArg(ctx context.Context, cmd string, args []string) (string, ctrgate.ContainerRuntime, error) {
	if err := needArgs(cmd, args, 1, 1, "one image reference"); err != nil {
		return "", nil, err
	}
	if err := ctrgate.ValidateImageRef(args[0]); err != nil {
		return "", nil, err
	}
	rt, err := a.runtime(ctx)
	return args[0], rt, err
}

// cmdImageExists is `image exists REF`: exit 0 when present, 1 when absent.
func (a *app) cmdImageExists(fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) (int, error) {
		ref, rt, err := a.imageArg(ctx, "image exists", args)
		if err != nil {
			return 0, err
		}
		ok, err := rt.ImageExists(ctx, ref)
		if err != nil {
			return 0, err
		}
		code := exitOK
		if !ok {
			code = exitImageAbsent
		}
		if a.g.json {
			return code, writeJSON(a.stdout, jsonImage{Ref: ref, Exists: &ok})
		}
		word := "present"
		if !ok {
			word = "absent"
		}
		fmt.Fprintf(a.stdout, "%s: %s\n", ref, word)
		return code, nil
	}
}

// cmdImageRm is `image rm [-f] REF`.
func (a *app) cmdImageRm(fs *pflag.FlagSet) runFunc {
	force := fs.BoolP("force", "f", false, "remove even when containers use it")
	return func(ctx context.Context, args []string) (int, error) {
		ref, rt, err := a.imageArg(ctx, "image rm", args)
		if err != nil {
			return 0, err
		}
		if err := rt.RemoveImage(ctx, ref, *force); err != nil {
			return 0, err
		}
		if a.g.json {
			return exitOK, writeJSON(a.stdout, jsonImage{Ref: ref, Removed: true})
		}
		fmt.Fprintf(a.stdout, "%s: removed\n", ref)
		return exitOK, nil
	}
}

// cmdImageImportTestImage is `image import-testimage`.
func (a *app) cmdImageImportTestImage(fs *pflag.FlagSet) runFunc {
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("image import-testimage", args, 0, 0, "no arguments"); err != nil {
			return 0, err
		}
		return a.cmdImportTestImage(ctx)
	}
}

func (a *app) cmdPull(fs *pflag.FlagSet) runFunc {
	policy := fs.String("policy", "always", "pull policy: always, missing (only when absent) or never (only check)")
	quiet := fs.BoolP("quiet", "q", false, "no progress display")
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("pull", args, 1, 1, "one image reference"); err != nil {
			return 0, err
		}
		ref, p := args[0], ctrgate.PullPolicy(*policy)
		if err := ctrgate.ValidateImageRef(ref); err != nil {
			return 0, err
		}
		if err := ctrgate.ValidatePullPolicy(p); err != nil {
			return 0, err
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		stop := func(bool) {}
		if !*quiet && !a.g.json && a.isTTY(a.rawStderr) {
			stop = startSpinner(a.rawStderr, func() string { return "pulling " + ref }, start)
		}
		err = rt.PullImage(ctx, ref, p)
		stop(err == nil)
		if err != nil {
			return 0, err
		}
		elapsed := time.Since(start)
		if a.g.json {
			return exitOK, writeJSON(a.stdout, jsonImage{Ref: ref, Pulled: true, Policy: string(p), ElapsedMS: elapsed.Milliseconds()})
		}
		fmt.Fprintf(a.stdout, "%s: pulled (%s)\n", ref, elapsed.Round(time.Millisecond))
		return exitOK, nil
	}
}

// countingReader counts the bytes read through it (for progress).
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// byteProgress labels a transfer of total bytes ("label 12.3MB/40MB").
func byteProgress(label string, c *countingReader, total int64) func() string {
	return func() string {
		if total <= 0 {
			return label + " " + units.HumanSize(float64(c.n.Load()))
		}
		return label + " " + units.HumanSize(float64(c.n.Load())) + "/" + units.HumanSize(float64(total))
	}
}

// spinnerFrames are the frames of the terminal progress display.
var spinnerFrames = []string{"|", "/", "-", `\`}

// startSpinner draws "<frame> <label()> <elapsed>" on a terminal every
// 100 ms until the returned function is called; that clears the line (and
// ends the goroutine before returning).
func startSpinner(w io.Writer, label func() string, start time.Time) func(ok bool) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "\r\033[K%s %s %.1fs", spinnerFrames[i%len(spinnerFrames)], label(), time.Since(start).Seconds())
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func(bool) {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

func (a *app) cmdImport(fs *pflag.FlagSet) runFunc {
	entrypoint := fs.String("entrypoint", "", `image ENTRYPOINT: a program, or a JSON array ["/bin/sh","-c"]`)
	cmdFlag := fs.String("cmd", "", `image CMD: a word, or a JSON array ["serve","--port","80"]`)
	var env, labels listFlag
	fs.Var(envFlag{&env, a.sec, false}, "env", "image ENV entry K=V; repeatable")
	fs.VarP(&labels, "label", "l", "image label k=v; repeatable")
	workdir := fs.String("workdir", "", "image WORKDIR")
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("import", args, 2, 2, "a tar file (or - for standard input) and an image reference"); err != nil {
			return 0, err
		}
		file, ref := args[0], args[1]
		if err := ctrgate.ValidateImageRef(ref); err != nil {
			return 0, err
		}
		var opts ctrgate.ImportOptions
		var err error
		if opts.Entrypoint, err = parseCommandLine(*entrypoint); err != nil {
			return 0, usagef("import", "import: --entrypoint: %v", err)
		}
		if opts.Cmd, err = parseCommandLine(*cmdFlag); err != nil {
			return 0, usagef("import", "import: --cmd: %v", err)
		}
		evs := parseEnv(env, false, a.getenv)
		a.sec.add(ctrgate.SecretValues(evs)...)
		if err := ctrgate.ValidateEnv("Env", evs); err != nil {
			return 0, err
		}
		opts.Env = ctrgate.EnvStrings(evs)
		opts.WorkDir = *workdir
		if opts.Labels, err = parseKV("import", "label", labels); err != nil {
			return 0, err
		}
		var r io.Reader = a.stdin
		if file != "-" {
			f, err := os.Open(file)
			if err != nil {
				return 0, fmt.Errorf("import: %w", err)
			}
			defer f.Close()
			r = f
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		if err := rt.ImportImage(ctx, ref, r, opts); err != nil {
			return 0, err
		}
		if a.g.json {
			return exitOK, writeJSON(a.stdout, jsonImage{Ref: ref, Imported: true})
		}
		fmt.Fprintf(a.stdout, "%s: imported\n", ref)
		return exitOK, nil
	}
}

// cmdImportTestImage is `image import-testimage`: (re)import the built-in
// testimage into the engine, whether or not it is there already (to
// refresh it from this binary). The in-memory fake has it built in.
func (a *app) cmdImportTestImage(ctx context.Context) (int, error) {
	rt, err := a.runtime(ctx)
	if err != nil {
		return 0, err
	}
	if a.isFake(rt) {
		if a.g.json {
			exists := true
			return exitOK, writeJSON(a.stdout, jsonImage{Ref: embeddedImage, Exists: &exists})
		}
		fmt.Fprintf(a.stdout, "%s: built into the in-memory fake (nothing to import)\n", embeddedImage)
		return exitOK, nil
	}
	start := time.Now()
	if err := a.importTestImage(ctx, rt); err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	if a.g.json {
		return exitOK, writeJSON(a.stdout, jsonImage{Ref: embeddedImage, Imported: true, ElapsedMS: elapsed.Milliseconds()})
	}
	fmt.Fprintf(a.stdout, "%s: imported (%s)\n", embeddedImage, elapsed.Round(time.Millisecond))
	return exitOK, nil
}

// cmdImages lists the images in local storage (`ctrgate images`, also
// `ctrgate image ls`).
func (a *app) cmdImages(fs *pflag.FlagSet) runFunc {
	var labels listFlag
	fs.VarP(&labels, "label", "l", "only images with label k=v (k alone: any value); repeatable")
	quiet := fs.BoolP("quiet", "q", false, "print image IDs only")
	return func(ctx context.Context, args []string) (int, error) {
		if err := needArgs("images", args, 0, 1, "at most one reference prefix"); err != nil {
			return 0, err
		}
		f := ctrgate.ImageFilter{}
		if len(args) == 1 {
			f.RefPrefix = args[0]
		}
		var err error
		if f.Labels, err = parseKV("images", "label", labels); err != nil {
			return 0, err
		}
		if err := ctrgate.ValidateImageFilter(f); err != nil {
			return 0, err
		}
		rt, err := a.runtime(ctx)
		if err != nil {
			return 0, err
		}
		imgs, err := rt.ListImages(ctx, f)
		if err != nil {
			return 0, err
		}
		sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Created.After(imgs[j].Created) })
		if a.g.json {
			out := make([]jsonImageEntry, 0, len(imgs))
			for _, im := range imgs {
				out = append(out, toJSONImageEntry(im))
			}
			return exitOK, writeJSON(a.stdout, out)
		}
		if *quiet {
			for _, im := range imgs {
				fmt.Fprintln(a.stdout, im.ID)
			}
			return exitOK, nil
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, "REFERENCE\tIMAGE ID\tCREATED\tSIZE")
		now := a.now()
		for _, im := range imgs {
			refs := im.Refs
			if len(refs) == 0 {
				refs = []string{"<none>"}
			}
			for _, ref := range refs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ref, shortID(im.ID), ago(now, im.Created),
					units.HumanSizeWithPrecision(float64(im.Size), 3))
			}
		}
		return exitOK, tw.Flush()
	}
}

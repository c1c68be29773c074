"""Deterministic seed data for the bundled course database.

`load_course_database(conn)` (re)creates the ten course tables in `public` from schema.sql and
fills them with the same rows on every run for a given seed. Run it by hand with
`python -m askdb.coursedb.seed postgresql://user@host/db`.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import sys
from decimal import Decimal
from pathlib import Path

import asyncpg

from pipeline.database import TODAY_SETTING, quote_ident

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
log = logging.getLogger("askdb.coursedb")

# Creation order (parents first); dropped in reverse.
COURSE_TABLES: tuple[str, ...] = (
    "departments",
    "instructors",
    "courses",
    "course_topics",
    "prerequisites",
    "terms",
    "sections",
    "students",
    "enrollments",
    "assessments",
)

# ---------------------------------------------------------------------------------------------
# Hand-written catalog
# ---------------------------------------------------------------------------------------------

# code, name, building, room prefix
DEPARTMENTS = [
    ("CE", "Computer Engineering", "Engineering Hall", "ENG"),
    ("CS", "Computer Science", "Turing Hall", "TUR"),
    ("EE", "Electrical Engineering", "Faraday Building", "FAR"),
    ("MATH", "Mathematics", "Noether Hall", "NOE"),
    ("PHYS", "Physics", "Curie Science Center", "CUR"),
]

# first, last, title, department code
INSTRUCTORS = [
    ("Maria", "Gonzalez", "Professor", "CE"),
    ("David", "Chen", "Associate Professor", "CE"),
    ("Aisha", "Rahman", "Assistant Professor", "CE"),
    ("Thomas", "Becker", "Lecturer", "CE"),
    ("Priya", "Natarajan", "Professor", "CE"),
    ("Robert", "Kim", "Professor", "CS"),
    ("Elena", "Petrova", "Associate Professor", "CS"),
    ("James", "O'Connor", "Assistant Professor", "CS"),
    ("Fatima", "Al-Sayed", "Professor", "CS"),
    ("Kenji", "Watanabe", "Lecturer", "CS"),
    ("Sarah", "Mitchell", "Associate Professor", "CS"),
    ("Samuel", "Okafor", "Professor", "EE"),
    ("Laura", "Rossi", "Associate Professor", "EE"),
    ("Hiroshi", "Tanaka", "Assistant Professor", "EE"),
    ("Grace", "Liu", "Lecturer", "EE"),
    ("Ivan", "Novak", "Professor", "MATH"),
    ("Helen", "Brooks", "Associate Professor", "MATH"),
    ("Carlos", "Mendoza", "Assistant Professor", "MATH"),
    ("Nadia", "Haddad", "Professor", "MATH"),
    ("Peter", "Lindqvist", "Lecturer", "MATH"),
    ("Olivia", "Grant", "Assistant Professor", "MATH"),
    ("Ahmed", "Karimi", "Professor", "PHYS"),
    ("Rachel", "Stein", "Associate Professor", "PHYS"),
    ("Daniel", "Alvarez", "Assistant Professor", "PHYS"),
    ("Mei", "Zhang", "Lecturer", "PHYS"),
]

# code, title, credits, description, prerequisite codes, weekly topics
COURSES: list[tuple[str, str, int, str, list[str], list[str]]] = [
    # ---- Computer Engineering
    ("CE 1100", "Introduction to Computer Engineering", 3,
     "Survey of the computer engineering discipline: number systems, digital logic, microcontrollers "
     "and the engineering design process, taught through small hands-on team projects.",
     [],
     ["Engineering design process", "Number systems and binary arithmetic", "Boolean logic and logic gates",
      "Breadboarding and basic circuits", "Introduction to microcontrollers", "Sensors and actuators",
      "Programming an Arduino", "Team design project", "Professional ethics in engineering"]),
    ("CE 2200", "Digital Logic Design", 4,
     "Design of combinational and sequential digital circuits, from Boolean algebra and Karnaugh maps to "
     "finite state machines, with hardware description in Verilog and implementation on FPGAs.",
     ["CE 1100"],
     ["Number systems and codes", "Boolean algebra", "Karnaugh map minimization", "Combinational circuit design",
      "Multiplexers, decoders and encoders", "Latches and flip-flops", "Synchronous sequential circuits",
      "Finite state machines", "Registers and counters", "Introduction to Verilog", "FPGA implementation"]),
    ("CE 2300", "Computer Organization", 3,
     "How programs execute on hardware: instruction set architecture, assembly language, the processor "
     "datapath, pipelining and the memory hierarchy.",
     ["CE 2200", "CS 1010"],
     ["Instruction set architecture", "Assembly language programming", "Data representation",
      "Procedure calls and the stack", "Single-cycle datapath", "Pipelining", "Pipeline hazards", "Cache memory",
      "Virtual memory", "I/O and interrupts"]),
    ("CE 3310", "Computer Networks", 3,
     "Principles and protocols of computer networks: the layered architecture, Ethernet, IP addressing and "
     "routing, TCP and UDP, congestion control and application protocols such as DNS and HTTP.",
     ["CE 2300", "CS 2110"],
     ["Network architecture and the OSI model", "Physical layer and encoding", "Data link layer and Ethernet",
      "IP addressing and subnetting", "Routing algorithms", "TCP and UDP", "Congestion control", "DNS and HTTP",
      "Wireless networks", "Network security basics"]),
    ("CE 3420", "Embedded Systems", 4,
     "Design and programming of microcontroller-based systems: memory-mapped I/O, interrupts, timers, serial "
     "buses, analog interfacing and real-time operating systems. Weekly hardware labs.",
     ["CE 2300"],
     ["Microcontroller architecture", "GPIO and memory-mapped I/O", "Interrupts and timers",
      "Serial protocols: UART, SPI and I2C", "Analog-to-digital conversion", "Real-time operating systems",
      "Low-power design"]),
    ("CE 3500", "Operating Systems", 3,
     "Structure and implementation of operating systems: processes and threads, scheduling, synchronization, "
     "memory management, virtual memory and file systems.",
     ["CE 2300", "CS 2110"],
     ["Processes and threads", "CPU scheduling", "Synchronization and locks", "Deadlocks", "Memory management",
      "Paging and virtual memory", "File systems", "I/O systems", "Protection and security"]),
    ("CE 4229", "Introduction to Cloud Computing", 3,
     "Concepts and practice of cloud computing: service models, data centers, virtualization, containers and "
     "Kubernetes, cloud storage and networking, serverless computing, infrastructure as code, elasticity, "
     "security and cost. Students deploy a scalable application on a public cloud.",
     ["CE 3310", "CE 3500"],
     ["Cloud computing concepts and service models (IaaS, PaaS, SaaS)", "Data centers and cloud infrastructure",
      "Virtualization and hypervisors", "Containers and Docker", "Container orchestration with Kubernetes",
      "Cloud storage: object, block and file storage", "Cloud networking and load balancing",
      "Serverless computing and functions as a service", "Infrastructure as code",
      "Scalability, elasticity and auto-scaling", "Cloud security and identity management",
      "Cost management and cloud economics"]),
    ("CE 4400", "Computer Architecture", 3,
     "Quantitative design of modern processors: instruction-level parallelism, branch prediction, out-of-order "
     "execution, memory hierarchy design, multicore processors and GPUs.",
     ["CE 2300"],
     ["Performance metrics", "Instruction-level parallelism", "Branch prediction", "Out-of-order execution",
      "Memory hierarchy design", "Multicore processors", "Cache coherence", "GPU architecture"]),
    ("CE 5310", "Distributed Systems", 3,
     "Graduate study of distributed systems: communication, time and ordering, replication and consistency, "
     "consensus protocols, distributed transactions and fault tolerance, with case studies of real systems.",
     ["CE 4229"],
     ["Models of distributed computation", "Remote procedure calls", "Logical clocks and ordering",
      "Replication and consistency", "Consensus: Paxos and Raft", "Distributed transactions", "Fault tolerance",
      "Distributed storage systems", "Case studies: MapReduce and Spark"]),
    # ---- Computer Science
    ("CS 1010", "Introduction to Programming", 3,
     "First course in programming using Python: variables, control flow, functions, lists and dictionaries, "
     "files, debugging and testing. No prior programming experience required.",
     [],
     ["Variables, expressions and types", "Conditionals", "Loops", "Functions", "Lists and strings",
      "Dictionaries", "File input and output", "Debugging and testing", "Recursion", "Introduction to objects"]),
    ("CS 1020", "Object-Oriented Programming", 3,
     "Object-oriented design and programming in Java: classes, encapsulation, inheritance, interfaces, "
     "exceptions, generic collections, unit testing and common design patterns.",
     ["CS 1010"],
     ["Classes and objects", "Encapsulation", "Inheritance", "Polymorphism and interfaces", "Exceptions",
      "Generics and collections", "Unit testing", "Design patterns"]),
    ("CS 2110", "Data Structures", 3,
     "Fundamental data structures and their analysis: lists, stacks, queues, trees, heaps, hash tables and "
     "graphs, together with sorting and searching algorithms.",
     ["CS 1020"],
     ["Algorithm analysis and Big-O", "Arrays and linked lists", "Stacks and queues", "Recursion",
      "Trees and binary search trees", "Balanced trees", "Heaps and priority queues", "Hash tables",
      "Graphs and graph traversal", "Sorting algorithms"]),
    ("CS 3110", "Algorithms", 3,
     "Design and analysis of algorithms: divide and conquer, greedy algorithms, dynamic programming, graph "
     "algorithms, network flow and an introduction to NP-completeness.",
     ["CS 2110", "MATH 2500"],
     ["Asymptotic analysis", "Divide and conquer", "Greedy algorithms", "Dynamic programming", "Shortest paths",
      "Minimum spanning trees", "Network flow", "NP-completeness"]),
    ("CS 3200", "Database Systems", 3,
     "Relational databases from the user's and the implementer's view: the relational model, SQL, schema "
     "design and normalization, indexing, query optimization, transactions and recovery.",
     ["CS 2110"],
     ["The relational model", "SQL queries", "Joins and subqueries", "Entity-relationship modeling",
      "Normalization", "Indexing and B-trees", "Query processing and optimization",
      "Transactions and concurrency control", "Recovery and logging", "NoSQL databases"]),
    ("CS 3400", "Software Engineering", 3,
     "Building software in teams: process models, requirements, agile development, design and UML, version "
     "control, testing, continuous integration and code review, around a semester-long team project.",
     ["CS 2110"],
     ["Software process models", "Requirements engineering", "Agile and Scrum", "Software design and UML",
      "Version control with Git", "Testing and continuous integration", "Code review and maintenance"]),
    ("CS 3600", "Programming Languages", 3,
     "Concepts of programming languages: syntax, semantics, functional programming, type systems, scoping "
     "and the implementation of interpreters and memory management.",
     ["CS 2110"],
     ["Syntax and grammars", "Functional programming", "Types and type checking", "Scope and binding",
      "Interpreters", "Memory management and garbage collection"]),
    ("CS 4100", "Artificial Intelligence", 3,
     "Foundations of artificial intelligence: intelligent agents, search, games, constraint satisfaction, "
     "logic, probabilistic reasoning and reinforcement learning.",
     ["CS 3110"],
     ["Intelligent agents", "Uninformed search", "Heuristic search and A*", "Adversarial search and games",
      "Constraint satisfaction", "Logic and knowledge representation", "Probabilistic reasoning",
      "Reinforcement learning"]),
    ("CS 4200", "Machine Learning", 3,
     "Introduction to machine learning: regression, classification, model evaluation, decision trees and "
     "ensembles, support vector machines, neural networks, clustering and dimensionality reduction.",
     ["CS 2110", "MATH 2210", "MATH 3300"],
     ["Supervised learning", "Linear regression", "Logistic regression", "Model evaluation and cross-validation",
      "Decision trees and ensembles", "Support vector machines", "Neural networks", "Clustering",
      "Dimensionality reduction", "Fairness in machine learning"]),
    ("CS 4500", "Computer Security", 3,
     "Principles and practice of computer security: threat modeling, cryptography, authentication, software "
     "vulnerabilities, web and network security, and malware.",
     ["CE 3310"],
     ["Threat modeling", "Cryptography basics", "Authentication and access control",
      "Software vulnerabilities and buffer overflows", "Web security", "Network security", "Malware"]),
    ("CS 5100", "Advanced Algorithms", 3,
     "Graduate algorithms: amortized and randomized analysis, approximation algorithms, linear programming, "
     "online and streaming algorithms.",
     ["CS 3110"],
     ["Amortized analysis", "Randomized algorithms", "Approximation algorithms", "Linear programming",
      "Online algorithms", "Streaming algorithms"]),
    ("CS 5200", "Deep Learning", 3,
     "Graduate course on deep neural networks: backpropagation, optimization and regularization, convolutional "
     "and recurrent networks, attention and transformers, generative and self-supervised models.",
     ["CS 4200"],
     ["Feedforward networks and backpropagation", "Optimization for deep learning", "Regularization",
      "Convolutional neural networks", "Recurrent neural networks", "Attention and transformers",
      "Generative models", "Self-supervised learning"]),
    # ---- Electrical Engineering
    ("EE 2010", "Circuit Analysis", 4,
     "Analysis of linear electric circuits: Kirchhoff's laws, nodal and mesh analysis, equivalent circuits, "
     "operational amplifiers, transient response and sinusoidal steady state. Includes a weekly lab.",
     ["PHYS 1120", "MATH 1220"],
     ["Ohm's law and Kirchhoff's laws", "Nodal and mesh analysis", "Thevenin and Norton equivalents",
      "Operational amplifiers", "Capacitors and inductors", "First-order RC and RL circuits",
      "Second-order circuits", "Sinusoidal steady-state analysis", "AC power", "Frequency response"]),
    ("EE 2200", "Signals and Systems", 3,
     "Continuous- and discrete-time signals and linear time-invariant systems: convolution, Fourier series and "
     "transforms, the Laplace and z-transforms, and sampling.",
     ["EE 2010", "MATH 1220"],
     ["Continuous and discrete-time signals", "Linear time-invariant systems", "Convolution", "Fourier series",
      "Fourier transform", "Laplace transform", "Sampling", "z-transform"]),
    ("EE 3100", "Electronics", 3,
     "Semiconductor devices and analog circuits: diodes, bipolar and MOS transistors, amplifier design, "
     "frequency response and feedback.",
     ["EE 2010"],
     ["Semiconductor fundamentals", "Diodes and rectifiers", "Bipolar junction transistors", "MOSFETs",
      "Transistor amplifiers", "Frequency response of amplifiers", "Feedback amplifiers"]),
    ("EE 3200", "Digital Signal Processing", 3,
     "Processing of discrete-time signals: the discrete Fourier transform and FFT, FIR and IIR filter design, "
     "and multirate systems, with MATLAB and Python exercises.",
     ["EE 2200"],
     ["Discrete-time signals and systems", "The discrete Fourier transform", "Fast Fourier transform",
      "FIR filter design", "IIR filter design", "Multirate signal processing"]),
    ("EE 3300", "Electromagnetics", 3,
     "Static and time-varying electromagnetic fields: electrostatics, magnetostatics, Maxwell's equations, "
     "plane waves, transmission lines and antennas.",
     ["PHYS 1120", "MATH 2230"],
     ["Vector analysis", "Electrostatics", "Magnetostatics", "Maxwell's equations", "Plane waves",
      "Transmission lines", "Waveguides and antennas"]),
    ("EE 3400", "Control Systems", 3,
     "Analysis and design of feedback control systems: modeling, transfer functions, stability, root locus, "
     "frequency-domain design, PID control and state-space methods.",
     ["EE 2200"],
     ["Modeling of dynamic systems", "Transfer functions", "Time response", "Stability and Routh-Hurwitz",
      "Root locus", "Bode plots", "PID controllers", "State-space methods"]),
    ("EE 4100", "Power Systems", 3,
     "Generation, transmission and distribution of electric power: three-phase circuits, transformers, "
     "transmission lines, power flow, fault analysis and integration of renewable energy.",
     ["EE 2010"],
     ["Three-phase circuits", "Transformers", "Transmission line models", "Power flow analysis",
      "Fault analysis", "Renewable energy integration"]),
    ("EE 5200", "Wireless Communications", 3,
     "Graduate course on wireless communication systems: channel models and fading, digital modulation, "
     "diversity, OFDM, MIMO and cellular network design.",
     ["EE 3200"],
     ["Wireless channel models", "Path loss and fading", "Digital modulation", "Diversity techniques", "OFDM",
      "MIMO systems", "Cellular networks"]),
    # ---- Mathematics
    ("MATH 1210", "Calculus I", 4,
     "Limits, continuity, derivatives and their applications, and an introduction to integration through the "
     "fundamental theorem of calculus.",
     [],
     ["Functions and limits", "Continuity", "Derivatives", "Differentiation rules", "Applications of derivatives",
      "Optimization", "Antiderivatives", "Definite integrals", "Fundamental theorem of calculus"]),
    ("MATH 1220", "Calculus II", 4,
     "Techniques and applications of integration, sequences and infinite series, Taylor series, parametric "
     "equations and polar coordinates.",
     ["MATH 1210"],
     ["Techniques of integration", "Integration by parts", "Improper integrals", "Applications of integration",
      "Sequences", "Infinite series", "Power series", "Taylor series",
      "Parametric equations and polar coordinates"]),
    ("MATH 2210", "Linear Algebra", 3,
     "Systems of linear equations, matrices, determinants, vector spaces, linear transformations, eigenvalues, "
     "orthogonality, least squares and the singular value decomposition.",
     ["MATH 1210"],
     ["Systems of linear equations", "Gaussian elimination", "Matrix algebra", "Determinants", "Vector spaces",
      "Linear independence and bases", "Linear transformations", "Eigenvalues and eigenvectors",
      "Orthogonality and least squares", "Singular value decomposition"]),
    ("MATH 2230", "Multivariable Calculus", 4,
     "Calculus of functions of several variables: partial derivatives, multiple integrals, vector fields, line "
     "and surface integrals and the theorems of Green, Stokes and Gauss.",
     ["MATH 1220"],
     ["Vectors and the geometry of space", "Partial derivatives", "Multiple integrals", "Vector fields",
      "Line integrals", "Green's theorem", "Stokes' and divergence theorems"]),
    ("MATH 2300", "Differential Equations", 3,
     "Ordinary differential equations: first-order equations, linear second-order equations, systems, Laplace "
     "transforms and series solutions, with applications in engineering and physics.",
     ["MATH 1220"],
     ["First-order equations", "Linear second-order equations", "Systems of differential equations",
      "Laplace transforms", "Series solutions"]),
    ("MATH 2500", "Discrete Mathematics", 3,
     "Mathematical foundations of computing: logic, proof techniques, sets, relations and functions, induction, "
     "counting, graph theory and recurrences.",
     [],
     ["Propositional logic", "Proofs and proof techniques", "Sets, relations and functions",
      "Mathematical induction", "Counting and combinatorics", "Graph theory", "Recurrence relations"]),
    ("MATH 3300", "Probability and Statistics", 3,
     "Probability models, random variables and distributions, the central limit theorem, estimation, "
     "hypothesis testing and linear regression.",
     ["MATH 1220"],
     ["Probability axioms", "Conditional probability and Bayes' theorem", "Discrete random variables",
      "Continuous random variables", "Joint distributions", "Central limit theorem",
      "Estimation and confidence intervals", "Hypothesis testing", "Linear regression"]),
    ("MATH 3400", "Numerical Methods", 3,
     "Numerical algorithms for scientific computing: floating-point error, root finding, interpolation, "
     "numerical integration, linear systems and ordinary differential equations.",
     ["MATH 2210", "CS 1010"],
     ["Floating-point arithmetic and error", "Root finding", "Interpolation",
      "Numerical differentiation and integration", "Solving linear systems",
      "Numerical solution of ordinary differential equations"]),
    ("MATH 5100", "Real Analysis", 3,
     "Graduate real analysis: the real numbers, metric spaces, continuity, uniform convergence, the Riemann "
     "integral and Lebesgue measure and integration.",
     ["MATH 2230"],
     ["The real numbers", "Sequences and limits", "Metric spaces", "Continuity", "Uniform convergence",
      "Riemann integration", "Lebesgue measure", "Lebesgue integration"]),
    # ---- Physics
    ("PHYS 1110", "General Physics I: Mechanics", 4,
     "Calculus-based introduction to classical mechanics: kinematics, Newton's laws, energy, momentum, "
     "rotation, gravitation, oscillations and waves. Includes a weekly lab.",
     [],
     ["Kinematics", "Newton's laws", "Work and energy", "Momentum and collisions", "Rotational motion",
      "Gravitation", "Oscillations", "Waves"]),
    ("PHYS 1120", "General Physics II: Electricity and Magnetism", 4,
     "Calculus-based introduction to electricity and magnetism: electric fields, Gauss's law, potential, "
     "circuits, magnetic fields, induction and electromagnetic waves. Includes a weekly lab.",
     ["PHYS 1110"],
     ["Electric charge and fields", "Gauss's law", "Electric potential", "Capacitance", "Current and resistance",
      "DC circuits", "Magnetic fields", "Electromagnetic induction", "AC circuits", "Electromagnetic waves"]),
    ("PHYS 2100", "Modern Physics", 3,
     "Special relativity and the origins of quantum theory: photons, wave-particle duality, the Schrodinger "
     "equation, atomic structure and nuclear physics.",
     ["PHYS 1120"],
     ["Special relativity", "Photons and the photoelectric effect", "Wave-particle duality", "The Bohr model",
      "The Schrodinger equation", "Atomic structure", "Nuclear physics"]),
    ("PHYS 3100", "Classical Mechanics", 3,
     "Intermediate mechanics: oscillators, Lagrangian and Hamiltonian formulations, central forces and rigid "
     "body dynamics.",
     ["PHYS 1110", "MATH 2300"],
     ["Newtonian mechanics revisited", "Oscillators", "Lagrangian mechanics", "Hamiltonian mechanics",
      "Central force motion", "Rigid body dynamics"]),
    ("PHYS 3200", "Quantum Mechanics", 3,
     "Wave mechanics and its applications: the Schrodinger equation, the harmonic oscillator, operators, angular "
     "momentum, the hydrogen atom, spin and perturbation theory.",
     ["PHYS 2100", "MATH 2210"],
     ["Wave functions", "The time-independent Schrodinger equation", "Harmonic oscillator",
      "Operators and measurement", "Angular momentum", "Hydrogen atom", "Spin", "Perturbation theory"]),
    ("PHYS 3400", "Optics", 3,
     "Geometric and wave optics: lenses and optical instruments, interference, diffraction, polarization and "
     "lasers. Includes optics labs.",
     ["PHYS 1120"],
     ["Geometric optics", "Lenses and optical instruments", "Interference", "Diffraction", "Polarization",
      "Lasers"]),
    ("PHYS 5300", "Semiconductor Physics", 3,
     "Graduate course on the physics of semiconductors: crystal structure, energy bands, carrier statistics and "
     "transport, p-n junctions and optoelectronic devices.",
     ["PHYS 3200"],
     ["Crystal structure", "Energy bands", "Carrier statistics", "Carrier transport", "p-n junctions",
      "Optoelectronic devices"]),
]

# Assessment plans: (name, kind, weight) rows summing to 100.
ASSESSMENT_PLANS: list[list[tuple[str, str, str]]] = [
    [("Homework Assignments", "homework", "25"), ("Weekly Quizzes", "quiz", "15"),
     ("Midterm Exam", "exam", "25"), ("Final Exam", "exam", "35")],
    [("Lab Reports", "lab", "30"), ("Homework Assignments", "homework", "20"),
     ("Midterm Exam", "exam", "20"), ("Final Exam", "exam", "30")],
    [("Term Project", "project", "40"), ("Weekly Quizzes", "quiz", "10"),
     ("Midterm Exam", "exam", "25"), ("Final Exam", "exam", "25")],
    [("Problem Sets", "homework", "30"), ("Midterm Exam 1", "exam", "20"),
     ("Midterm Exam 2", "exam", "20"), ("Final Exam", "exam", "30")],
    [("Programming Assignments", "homework", "35"), ("Quizzes", "quiz", "12.50"),
     ("Midterm Exam", "exam", "22.50"), ("Final Exam", "exam", "30")],
    [("Research Project", "project", "50"), ("Paper Reviews", "homework", "20"),
     ("Final Exam", "exam", "30")],
    [("Team Project", "project", "45"), ("Homework Assignments", "homework", "20"),
     ("Midterm Exam", "exam", "15"), ("Final Exam", "exam", "20")],
]
CUSTOM_ASSESSMENTS: dict[str, list[tuple[str, str, str]]] = {
    "CE 4229": [("Hands-on Cloud Labs", "lab", "20"), ("Cloud Deployment Project", "project", "30"),
                ("Weekly Quizzes", "quiz", "5"), ("Midterm Exam", "exam", "20"), ("Final Exam", "exam", "25")],
    "CS 3400": [("Team Project", "project", "50"), ("Sprint Reviews", "homework", "20"),
                ("Midterm Exam", "exam", "15"), ("Final Exam", "exam", "15")],
    "CE 3420": [("Hardware Labs", "lab", "40"), ("Final Design Project", "project", "30"),
                ("Midterm Exam", "exam", "15"), ("Final Exam", "exam", "15")],
}

TERMS = [
    ("Fall 2025", dt.date(2025, 8, 25), dt.date(2025, 12, 12)),
    ("Spring 2026", dt.date(2026, 1, 12), dt.date(2026, 5, 1)),
    ("Fall 2026", dt.date(2026, 8, 24), dt.date(2026, 12, 11)),
]
CURRENT_TERM = "Fall 2026"
SNAPSHOT_DATE = dt.date(2026, 12, 1)  # a day of the current term, the date the shipped adapter was trained on

# Offered every term (with the number of sections per term).
ALWAYS_OFFERED = {"CS 1010": 3, "MATH 1210": 3, "MATH 1220": 2, "PHYS 1110": 2, "PHYS 1120": 2,
                  "CS 2110": 2, "CE 4229": 2, "CS 1020": 2, "MATH 2210": 2, "EE 2010": 1, "CE 1100": 1}
# Offered in Fall 2025 but not in Fall 2026.
FALL_2025_ONLY = {"CE 4400", "CS 3600", "EE 4100", "PHYS 3400"}
# Offered in Fall 2026 but not in Fall 2025.
FALL_2026_ONLY = {"CS 5200", "CE 5310"}

SLOTS = [
    ("MWF", dt.time(8, 0), dt.time(8, 50)), ("MWF", dt.time(9, 0), dt.time(9, 50)),
    ("MWF", dt.time(10, 0), dt.time(10, 50)), ("MWF", dt.time(11, 0), dt.time(11, 50)),
    ("MWF", dt.time(13, 0), dt.time(13, 50)), ("MWF", dt.time(14, 0), dt.time(14, 50)),
    ("TR", dt.time(8, 0), dt.time(9, 15)), ("TR", dt.time(9, 30), dt.time(10, 45)),
    ("TR", dt.time(11, 0), dt.time(12, 15)), ("TR", dt.time(13, 0), dt.time(14, 15)),
    ("TR", dt.time(14, 30), dt.time(15, 45)), ("TR", dt.time(16, 0), dt.time(17, 15)),
    ("MW", dt.time(15, 0), dt.time(16, 15)), ("MW", dt.time(16, 30), dt.time(17, 45)),
]
GRAD_SLOTS = [("T", dt.time(18, 0), dt.time(20, 45)), ("W", dt.time(18, 0), dt.time(20, 45)),
              ("R", dt.time(18, 0), dt.time(20, 45)), ("M", dt.time(18, 0), dt.time(20, 45))]
ROOM_NUMBERS = ["101", "105", "120", "204", "210", "215", "302", "310"]

FIRST_NAMES = [
    "Liam", "Olivia", "Noah", "Emma", "Ethan", "Ava", "Lucas", "Sophia", "Mason", "Isabella", "Aiden", "Mia",
    "Jackson", "Amelia", "Mateo", "Harper", "Elijah", "Evelyn", "Logan", "Abigail", "Wei", "Mei", "Jun", "Yuki",
    "Hana", "Arjun", "Ananya", "Rohan", "Priya", "Vikram", "Aarav", "Diya", "Omar", "Layla", "Yusuf", "Zainab",
    "Karim", "Amira", "Tariq", "Leila", "Chinedu", "Amara", "Kwame", "Ngozi", "Tunde", "Ifeoma", "Santiago",
    "Valentina", "Diego", "Camila", "Javier", "Lucia", "Andres", "Sofia", "Mateus", "Gabriela", "Dmitri", "Anya",
    "Nikolai", "Katya", "Lars", "Ingrid", "Sven", "Freya", "Pierre", "Camille", "Luca", "Giulia", "Marco",
    "Chiara", "Sean", "Siobhan", "Declan", "Aoife", "Min-jun", "Seo-yeon", "Ji-ho", "Thanh", "Linh", "Minh",
    "Tomas", "Elif", "Emre", "Zeynep", "Noam", "Tamar", "Kai", "Leilani", "Ravi", "Sana", "Hamza", "Nora",
    "Caleb", "Chloe", "Owen", "Grace", "Julian", "Hazel", "Isaac", "Ruby",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Nguyen",
    "Tran", "Pham", "Wang", "Li", "Zhang", "Liu", "Chen", "Huang", "Yamamoto", "Sato", "Suzuki", "Park", "Choi",
    "Kang", "Patel", "Shah", "Singh", "Kumar", "Gupta", "Iyer", "Reddy", "Khan", "Hussain", "Ahmed", "Hassan",
    "Ali", "Nasser", "Haddad", "Okonkwo", "Adeyemi", "Mensah", "Boateng", "Eze", "Silva", "Santos", "Pereira",
    "Costa", "Fernandez", "Ramirez", "Torres", "Flores", "Ivanov", "Popov", "Kowalski", "Nowak", "Novak",
    "Johansson", "Andersen", "Larsen", "Schmidt", "Weber", "Fischer", "Dubois", "Laurent", "Rossi", "Russo",
    "Romano", "Murphy", "Kelly", "O'Brien", "Walsh", "Cohen", "Levi", "Yilmaz", "Demir", "Kaya", "Kahale",
    "Campbell", "Stewart", "Morgan", "Bennett", "Hughes", "Foster", "Reyes", "Cruz", "Ortiz", "Bakr", "Mahmoud",
]
GRADES = ["A", "A-", "B+", "B", "B-", "C+", "C", "D", "F"]
GRADE_WEIGHTS = [18, 14, 14, 15, 11, 9, 9, 5, 5]
N_STUDENTS = 480


def _email_local(*parts: str) -> str:
    return ".".join("".join(ch for ch in p.lower() if ch.isalnum()) for p in parts)


def _course_number(code: str) -> int:
    return int(code.split()[1])


def build_rows(seed: int = 4229) -> dict[str, list[tuple]]:
    """All rows of all tables, in COURSE_TABLES column order; deterministic for a given seed."""
    rng = random.Random(seed)
    rows: dict[str, list[tuple]] = {t: [] for t in COURSE_TABLES}

    dept_id = {}
    room_prefix = {}
    for i, (code, name, building, prefix) in enumerate(DEPARTMENTS, start=1):
        rows["departments"].append((i, code, name, building))
        dept_id[code] = i
        room_prefix[code] = prefix

    dept_instructors: dict[str, list[int]] = {code: [] for code, *_ in DEPARTMENTS}
    for i, (first, last, title, dcode) in enumerate(INSTRUCTORS, start=1):
        email = f"{_email_local(first[0] + last)}@faculty.example.edu"
        rows["instructors"].append((i, first, last, email, title, dept_id[dcode]))
        dept_instructors[dcode].append(i)

    course_id = {}
    for i, (code, title, credits, desc, _prereqs, _topics) in enumerate(COURSES, start=1):
        dcode = code.split()[0]
        level = "graduate" if _course_number(code) >= 5000 else "undergraduate"
        rows["courses"].append((i, code, title, desc, credits, level, dept_id[dcode]))
        course_id[code] = i

    topic_id = 0
    for code, _t, _c, _d, prereqs, topics in COURSES:
        assert 4 <= len(topics) <= 12, code
        for week, topic in enumerate(topics, start=1):
            topic_id += 1
            rows["course_topics"].append((topic_id, course_id[code], week, topic))
        for pre in prereqs:
            assert _course_number(pre) < _course_number(code), (code, pre)
            rows["prerequisites"].append((course_id[code], course_id[pre]))

    assessment_id = 0
    for code, *_ in COURSES:
        plan = CUSTOM_ASSESSMENTS.get(code) or ASSESSMENT_PLANS[rng.randrange(len(ASSESSMENT_PLANS))]
        if _course_number(code) >= 5000 and code not in CUSTOM_ASSESSMENTS:
            plan = ASSESSMENT_PLANS[5] if rng.random() < 0.6 else ASSESSMENT_PLANS[2]
        assert sum(Decimal(w) for *_, w in plan) == 100, code
        for name, kind, weight in plan:
            assessment_id += 1
            rows["assessments"].append((assessment_id, course_id[code], name, kind, Decimal(weight)))

    term_id = {}
    for i, (name, start, end) in enumerate(TERMS, start=1):
        rows["terms"].append((i, name, start, end))
        term_id[name] = i

    # Each course has a regular instructor who teaches most of its sections.
    regular: dict[str, int] = {}
    next_regular = {code: rng.randrange(len(ids)) for code, ids in dept_instructors.items()}
    for code, *_ in COURSES:
        dcode = code.split()[0]
        ids = dept_instructors[dcode]
        regular[code] = ids[next_regular[dcode] % len(ids)]
        next_regular[dcode] += 1

    # --- sections
    section_id = 0
    section_info: dict[int, dict] = {}
    for tname, _s, _e in TERMS:
        busy_instr: set[tuple[int, int]] = set()  # (instructor, slot index)
        busy_room: set[tuple[str, int]] = set()
        for code, _t, credits, *_ in COURSES:
            if code in ALWAYS_OFFERED:
                n_sections = ALWAYS_OFFERED[code]
            elif tname == "Fall 2025" and code in FALL_2025_ONLY:
                n_sections = 1
            elif tname == "Fall 2026" and code in FALL_2025_ONLY:
                n_sections = 0
            elif tname == "Fall 2025" and code in FALL_2026_ONLY:
                n_sections = 0
            elif tname == "Fall 2026" and code in FALL_2026_ONLY:
                n_sections = 1
            else:
                n_sections = 1 if rng.random() < 0.8 else 0
                if n_sections and _course_number(code) < 3000 and rng.random() < 0.4:
                    n_sections = 2
            grad = _course_number(code) >= 5000
            dcode = code.split()[0]
            for k in range(n_sections):
                if k == 0 and rng.random() < 0.8:
                    instructor = regular[code]
                else:
                    instructor = rng.choice(dept_instructors[dcode])
                slots = GRAD_SLOTS if grad else SLOTS
                slot_offset = 100 if grad else 0
                for _attempt in range(200):
                    slot = rng.randrange(len(slots))
                    room = f"{room_prefix[dcode]} {rng.choice(ROOM_NUMBERS)}"
                    if (instructor, slot + slot_offset) in busy_instr or (room, slot + slot_offset) in busy_room:
                        if _attempt % 20 == 19:
                            instructor = rng.choice(dept_instructors[dcode])
                        continue
                    break
                else:  # pragma: no cover - the catalog is small enough that this never happens
                    raise RuntimeError(f"could not schedule {code} in {tname}")
                busy_instr.add((instructor, slot + slot_offset))
                busy_room.add((room, slot + slot_offset))
                days, start, end = slots[slot]
                if grad:
                    capacity = rng.choice([20, 24, 25, 30])
                elif _course_number(code) < 2000:
                    capacity = rng.choice([60, 75, 80, 90, 100, 120])
                elif _course_number(code) < 3000:
                    capacity = rng.choice([45, 50, 60, 75])
                else:
                    capacity = rng.choice([35, 40, 45, 50, 60])
                section_id += 1
                rows["sections"].append((section_id, course_id[code], term_id[tname], instructor, f"{k + 1:03d}",
                                         room, days, start, end, capacity))
                section_info[section_id] = {"code": code, "term": tname, "capacity": capacity, "taken": 0}

    # --- students
    major_weights = {"CE": 30, "CS": 34, "EE": 16, "MATH": 10, "PHYS": 10}
    dept_codes = [d[0] for d in DEPARTMENTS]
    seen_emails: set[str] = set()
    student_major: dict[int, str] = {}
    student_admit: dict[int, int] = {}
    for sid in range(1, N_STUDENTS + 1):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        local = _email_local(first, last)
        email, n = f"{local}@students.example.edu", 1
        while email in seen_emails:
            n += 1
            email = f"{local}{n}@students.example.edu"
        seen_emails.add(email)
        major = rng.choices(dept_codes, weights=[major_weights[c] for c in dept_codes])[0]
        admit = rng.choice([2021, 2022, 2022, 2023, 2023, 2024, 2024, 2025, 2025, 2026])
        rows["students"].append((sid, first, last, email, dept_id[major], admit))
        student_major[sid] = major
        student_admit[sid] = admit

    # --- enrollments
    sections_by_term_course: dict[tuple[str, str], list[int]] = {}
    for sec_id, info in section_info.items():
        sections_by_term_course.setdefault((info["term"], info["code"]), []).append(sec_id)
    for tname, start, _e in TERMS:
        is_current = tname == CURRENT_TERM
        offered = [c for c, *_ in COURSES if (tname, c) in sections_by_term_course]
        for sid in range(1, N_STUDENTS + 1):
            # Academic year of the student in this term (1 = first year).
            year = start.year - student_admit[sid] + (1 if start.month >= 8 else 0)
            if year < 1 or year > 4:
                continue
            max_level = {1: 1, 2: 2, 3: 4, 4: 5}[year]
            min_level = {1: 1, 2: 1, 3: 2, 4: 3}[year]
            major = student_major[sid]
            eligible = [c for c in offered if min_level <= _course_number(c) // 1000 <= max_level]
            weights = []
            for c in eligible:
                w = 4.0 if c.split()[0] == major else 1.0
                if c.split()[0] == "MATH" and year <= 2:
                    w = 3.0
                if c.split()[0] == "PHYS" and year <= 2 and major in ("EE", "PHYS", "CE"):
                    w = 3.0
                weights.append(w)
            n_courses = rng.choice([3, 4, 4, 4, 5])
            chosen: list[str] = []
            for _ in range(30):
                if len(chosen) >= n_courses or not eligible:
                    break
                c = rng.choices(eligible, weights=weights)[0]
                if c in chosen:
                    continue
                open_sections = [s for s in sections_by_term_course[(tname, c)]
                                 if section_info[s]["taken"] < section_info[s]["capacity"]]
                if not open_sections:
                    continue
                sec = rng.choice(open_sections)
                section_info[sec]["taken"] += 1
                chosen.append(c)
                if is_current:
                    status = "dropped" if rng.random() < 0.07 else "enrolled"
                    grade = None
                elif rng.random() < 0.09:
                    status, grade = "dropped", None
                else:
                    status, grade = "completed", rng.choices(GRADES, weights=GRADE_WEIGHTS)[0]
                rows["enrollments"].append((sid, sec, status, grade))
    rows["enrollments"].sort(key=lambda r: (r[0], r[1]))
    return rows


COLUMNS = {
    "departments": ("id", "code", "name", "building"),
    "instructors": ("id", "first_name", "last_name", "email", "title", "department_id"),
    "courses": ("id", "code", "title", "description", "credits", "level", "department_id"),
    "course_topics": ("id", "course_id", "week", "topic"),
    "prerequisites": ("course_id", "prerequisite_id"),
    "terms": ("id", "name", "starts_on", "ends_on"),
    "sections": ("id", "course_id", "term_id", "instructor_id", "section_number", "room", "meeting_days",
                 "start_time", "end_time", "capacity"),
    "students": ("id", "first_name", "last_name", "email", "major_department_id", "admit_year"),
    "enrollments": ("student_id", "section_id", "status", "grade"),
    "assessments": ("id", "course_id", "name", "kind", "weight_percent"),
}


async def load_course_database(conn: asyncpg.Connection, *, seed: int = 4229) -> dict[str, int]:
    """Create the course schema in `public` (dropping any previous course tables) and load deterministic seed data; returns row counts per table."""
    rows = build_rows(seed)
    schema_sql = SCHEMA_PATH.read_text(encoding="utf-8")
    async with conn.transaction():
        drops = ", ".join(f"public.{t}" for t in reversed(COURSE_TABLES))
        await conn.execute(f"DROP TABLE IF EXISTS {drops} CASCADE")
        await conn.execute("SET LOCAL search_path TO public")
        await conn.execute(schema_sql)
        for table in COURSE_TABLES:
            await conn.copy_records_to_table(table, records=rows[table], columns=list(COLUMNS[table]),
                                             schema_name="public")
            if "id" in COLUMNS[table]:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('public.{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM public.{table}), false)"
                )
    await conn.execute("ANALYZE " + ", ".join(f"public.{t}" for t in COURSE_TABLES))
    # The rows are a snapshot during Fall 2026 (current enrollments, "this semester" in the dev set): new sessions
    # see its date whatever day it is (pipeline.database.declared_today).
    database = await conn.fetchval("SELECT current_database()")
    try:
        await conn.execute(f"ALTER DATABASE {quote_ident(database)} SET {TODAY_SETTING} = '{SNAPSHOT_DATE.isoformat()}'")
    except asyncpg.InsufficientPrivilegeError:
        log.warning("only the owner of database %s can declare the data's date; set sql.today: %s in config.yaml "
                    "so that 'this semester' means %s", database, SNAPSHOT_DATE.isoformat(), CURRENT_TERM)
    return {table: len(rows[table]) for table in COURSE_TABLES}


async def _main(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        counts = await load_course_database(conn)
    finally:
        await conn.close()
    for table, n in counts.items():
        print(f"{table:15s} {n:6d}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m askdb.coursedb.seed postgresql://user@host:port/dbname", file=sys.stderr)
        sys.exit(2)
    asyncio.run(_main(sys.argv[1]))
